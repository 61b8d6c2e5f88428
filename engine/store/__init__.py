"""The store: what a command reads and writes, in SQLAlchemy Core on the session's
connection. One write of the instance row per command (version-checked), projections
changed by difference, facts upserted. May import engine.models, engine.errors and
engine.execution (the workflow classes, what a workflow shows); nothing here runs one.
"""
