"""The local launcher: `make up`, `make stop`, `make run`."""
