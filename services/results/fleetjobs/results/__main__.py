from fleetjobs.core.runtime import run_service
from fleetjobs.results.app import build_results

if __name__ == "__main__":
    run_service("results", build_results)
