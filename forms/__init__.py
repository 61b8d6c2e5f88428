"""Task forms: formData and Camunda Forms as one field model, validated with marshmallow."""
