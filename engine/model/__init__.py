"""The BPMN and DMN model: reading the files safely, checking them, the task specs
SpiffWorkflow runs, the expressions, decisions and the script sandbox."""
