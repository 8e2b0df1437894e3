"""Cost of one spectrogram redraw (gui.spectrogram) by visible range: 0.5 s, 30 s, 24 h.

The view computes at most one column per pixel (``--columns``, a wide timeline); a
zoomed-out view reads only each column's own 512 samples, so the 24 h view (a
reader over synthetic noise: no 24 h array is held) should cost about what the
30 s view costs. Prints the median of ``--repeat`` runs per range, interleaved,
and the samples read.

    python bench/bench_spectrogram.py [--columns 1200] [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gui.spectrogram import spectrogram  # noqa: E402

SR = 16000


def noise_reader(counter: list[int]):
    def read(s0: int, s1: int) -> np.ndarray:
        counter.append(s1 - s0)
        rng = np.random.default_rng(s0)
        return (0.1 * rng.standard_normal(s1 - s0)).astype(np.float32)

    return read


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--columns", type=int, default=1200)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args(argv)
    ranges = {"0.5 s": (100.0, 100.5), "30 s": (100.0, 130.0), "24 h": (0.0, 86400.0)}
    total = 86400 * SR
    times: dict[str, list[float]] = {k: [] for k in ranges}
    read: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, (t0, t1) in ranges.items():  # interleaved: load hits all alike
            counter: list[int] = []
            start = time.perf_counter()
            s = spectrogram(noise_reader(counter), SR, total, t0, t1, args.columns)
            times[name].append(time.perf_counter() - start)
            read[name] = sum(counter)
            assert s.db.shape[0] <= args.columns
    print(f"load: {os.getloadavg()[0]:.1f} (1 min); columns {args.columns}")
    for name in ranges:
        print(f"{name:>6} visible: median {1000 * statistics.median(times[name]):6.1f} ms "
              f"over {args.repeat} runs, {read[name]:,} samples read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
