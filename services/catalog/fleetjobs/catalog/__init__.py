"""The catalog service: the definitions (credentials, contents, targets, execution policies,
jobs). `fleetjobs.catalog.app.build_catalog` wires it; `python -m fleetjobs.catalog` runs it."""
