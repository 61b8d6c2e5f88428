"""Task forms: formData and Camunda Forms as one field model, validated with marshmallow.

Imports `feel` (form conditions), never the engine or Flask.
"""
