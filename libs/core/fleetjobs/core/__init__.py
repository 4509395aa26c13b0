"""What several fleetjobs services share."""
