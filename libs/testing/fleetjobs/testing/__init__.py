"""Test support for fleetjobs: real servers only."""
