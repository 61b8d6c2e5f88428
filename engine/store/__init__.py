"""The store: what a command reads and writes, in SQLAlchemy Core on the session's
connection. One write of the instance row per command (version-checked), projections
changed by difference, facts upserted. May import engine.models, engine.projection and
engine.errors; nothing here runs a workflow.
"""
