from fleetjobs.core.runtime import run_service
from fleetjobs.executor.app import build_executor

if __name__ == "__main__":
    run_service("executor", build_executor)
