from fleetjobs.core.runtime import run_service
from fleetjobs.scheduler.app import build_scheduler

if __name__ == "__main__":
    run_service("scheduler", build_scheduler)
