"""Tiltak composition root: wires engine and forms together and offers the command line."""
