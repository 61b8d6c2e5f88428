"""Tiltak engine: BPMN from Camunda Modeler executed by SpiffWorkflow, persisted with SQLAlchemy. No Flask."""
