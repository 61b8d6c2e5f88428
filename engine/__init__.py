"""Tiltak engine: Camunda Modeler BPMN executed by SpiffWorkflow, persisted with SQLAlchemy.

No Flask, no forms: the web UI and the command line sit on top of it.
"""
