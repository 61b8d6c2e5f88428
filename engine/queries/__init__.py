"""Queries: reads in SQL that load no workflow. The worklist (open tasks a user may work
on), the auditors' search over instances, the values a task is shown from the last round,
whether a case is sensitive, and deployments as Camunda's REST API lists them. May import
engine.models, engine.store, engine.model and the engine's foundations (errors, limits,
serialization); never a service."""
