"""Task forms: camunda:formData and Camunda Forms turned into one field model and validated with marshmallow."""
