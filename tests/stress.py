"""The suite, several times in a row, while busy loops keep every core occupied.

``make test-stress`` (or ``python tests/stress.py [pytest args]``) proves that the tests wait
for conditions rather than for time: a loaded machine may make them slower, never red. Prints
one line per run and a summary; exits non-zero if any run failed.
"""

import argparse
import os
import subprocess
import sys
import time

BUSY = "while True: pass"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--busy", type=int, default=os.cpu_count() or 2, help="busy loops (default: one a core)"
    )
    args, pytest_args = parser.parse_known_args()
    loops = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
    results = []
    try:
        for run in range(1, args.runs + 1):
            start = time.monotonic()
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
            code = subprocess.call(command)
            results.append((run, code, time.monotonic() - start))
            print(f"stress run {run}/{args.runs}: exit {code} in {results[-1][2]:.0f} s", flush=True)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    print(f"\n{args.busy} busy loop(s) on {os.cpu_count()} core(s):")
    for run, code, seconds in results:
        print(f"  run {run}: {'green' if code == 0 else f'RED (exit {code})'}, {seconds:.0f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
