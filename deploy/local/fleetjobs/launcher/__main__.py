"""python -m fleetjobs.launcher up | stop | status | demo"""

from __future__ import annotations

import argparse
import sys

from fleetjobs.launcher._suite import Suite, describe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fleetjobs-launcher", description=__doc__)
    parser.add_argument("command", choices=["up", "stop", "status", "demo"])
    args = parser.parse_args(argv)
    suite = Suite()
    if args.command == "up":
        endpoints = suite.up()
        print(describe(endpoints, suite.nats_url, suite.state_dir))
    elif args.command == "stop":
        stopped = suite.stop()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    elif args.command == "status":
        names = suite.run.managed_names()
        print("running: " + (", ".join(names) if names else "nothing"))
    else:
        from fleetjobs.launcher._demo import run_demo

        return run_demo(suite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
