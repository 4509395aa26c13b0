"""The scheduler service: when executions start, and their lifecycle."""
