"""Tiltak: the Flask web UI (built on engine and forms)."""
