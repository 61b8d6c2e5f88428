"""Tiltak engine: Camunda Modeler BPMN executed by SpiffWorkflow, persisted with SQLAlchemy.

No Flask, no forms: the web UI and the command line sit on top of it. Importing it puts
the engine's changes to SpiffWorkflow in place (engine/execution/spiff_overrides.py).
"""

from .execution import spiff_overrides

spiff_overrides.install()
