"""Run every benchmark once with its default (or a short, stated) size and print the figures.

    python bench/run_all.py            # the quick set (about 10 minutes on 2 cores)
    python bench/run_all.py --full     # adds the 1 h identification and the 24 h memory run

Benchmarks print figures; they never fail on a time (that is what the tests don't do either).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

QUICK = [
    ["bench_compare.py"],
    ["bench_library.py"],
    ["calibrate.py"],
    ["calibrate.py", "--encoder", "campp"],
    ["bench_accuracy.py"],
    ["bench_identify.py", "--minutes", "10"],
    ["bench_api.py"],
    ["bench_batch.py", "--files", "8", "--max-minutes", "2"],
]
FULL = [
    ["bench_batch.py"],
    ["bench_identify.py", "--minutes", "60"],
    ["bench_longaudio.py", "--hours", "24"],
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also the 1 h and 24 h runs (long)")
    args = ap.parse_args()
    failed = 0
    for cmd in QUICK + (FULL if args.full else []):
        print(f"\n=== {' '.join(cmd)}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / cmd[0]), *cmd[1:]])
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
