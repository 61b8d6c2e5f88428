"""Execution: running a workflow on SpiffWorkflow. The engine's workflow classes and task
walk, every override of SpiffWorkflow, the ids and times it is handed, the workflows kept
between commands, what a workflow shows after a command, and timer start events.
May import engine.model, engine.clock, engine.errors and engine.models, nothing above."""
