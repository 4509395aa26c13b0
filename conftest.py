# The shared fixtures (real nats-server, databases, in-process services) for every test folder.
pytest_plugins = ["fleetjobs.testing.fixtures"]
