"""Bench: voiceprint comparison speed.

Prints the median time of
* ``compare()`` of 1,000 x 1,000 ECAPA-sized (192-d) voiceprints (target <= 100 ms), and
* ``score_against()`` of 1 query against 100,000 library vectors (target <= 20 ms).

Run: ``.venv/bin/python bench/bench_compare.py [--repeats N]``. Exit status 0 either
way: the figures are for the record, the targets are printed next to them.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from engine.compare import compare, score_against
from engine.voiceprint import Voiceprint

DIM = 192
MODEL = "bench-model"


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (BLAS threads, caches, the calibration import)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="timed runs per figure (median)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    list_a = [Voiceprint(v, MODEL) for v in rng.standard_normal((1000, DIM))]
    list_b = [Voiceprint(v, MODEL) for v in rng.standard_normal((1000, DIM))]
    lib = rng.standard_normal((100_000, DIM)).astype(np.float32)
    lib /= np.linalg.norm(lib, axis=1, keepdims=True)
    query = list_a[0].vector

    t_cmp = median_ms(lambda: compare(list_a, list_b), args.repeats)
    t_lib = median_ms(lambda: score_against(query, lib), args.repeats * 3)
    print(f"machine: {platform.machine()} {platform.processor() or ''}".rstrip())
    print(
        f"compare 1,000 x 1,000 (dim {DIM}):        {t_cmp:7.2f} ms  (target <= 100 ms) "
        f"{'OK' if t_cmp <= 100 else 'SLOW'}"
    )
    print(
        f"score_against 1 x 100,000 (dim {DIM}):    {t_lib:7.2f} ms  (target <= 20 ms) "
        f"{'OK' if t_lib <= 20 else 'SLOW'}"
    )


if __name__ == "__main__":
    main()
