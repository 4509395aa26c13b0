"""The executor service: expands executions and runs tasks on target databases."""
