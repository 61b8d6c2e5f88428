"""The engine's services in Camunda's words (repository, runtime, tasks, history,
identity, migration, suspension): each an object `Engine` (engine/runtime.py) hands out,
over the one core they share (engine/core.py). May import everything in `engine` below."""
