"""Alembic migrations of the engine's schema; `tiltak init` upgrades to the newest."""
