"""The engine's services in Camunda's words: repository, instances (runtime), tasks,
history and identity; each a part of `Engine` (engine/runtime.py) over one shared core."""
