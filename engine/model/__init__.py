"""The BPMN and DMN model: reading the files safely, checking them, the task specs
SpiffWorkflow runs, the expressions, decisions and the script sandbox. May import
engine.errors, engine.clock and engine.values; nothing that runs or stores a workflow."""
