"""Benchmark: the voiceprint library with 100,000 enrolled speakers.

Creates a throwaway library (random 192-d unit voiceprints, one transaction),
then times listing, searching, loading the speaker matrix and identifying one
voiceprint against every speaker. Target: identify_vector ≤ 20 ms once the
matrix is cached.

    python bench/bench_library.py [--speakers 100000] [--dim 192] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.library import Library  # noqa: E402
from engine.voiceprint import Voiceprint  # noqa: E402

MODEL = "bench-model@1"
TARGET_IDENTIFY_MS = 20.0


def _time(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall time in ms over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times), result


def run(n: int, dim: int, folder: Path) -> dict[str, float]:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    figures: dict[str, float] = {"speakers": n, "dim": dim}

    library = Library(folder / "bench.sqlite3")
    items = [(f"Speaker {i:06d}", Voiceprint(vectors[i], MODEL), 30.0, "x.wav") for i in range(n)]
    figures["bulk_enroll_s"] = _time(lambda: library.bulk_enroll(items))[0] / 1000.0
    figures["db_mib"] = (folder / "bench.sqlite3").stat().st_size / 2**20
    figures["count_ms"] = _time(library.count, 5)[0]
    figures["list_speakers_ms"], listed = _time(library.list_speakers, 3)
    assert len(listed) == n
    figures["list_page_100_ms"] = _time(lambda: library.list_speakers(limit=100, offset=n // 2),
                                        5)[0]
    figures["search_ms"] = _time(lambda: library.search("01234"), 5)[0]
    figures["matrix_load_ms"] = _time(lambda: library.matrix(MODEL))[0]
    probe_vec = vectors[n // 3] + 0.5 * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
    probe = Voiceprint(probe_vec, MODEL)
    ids, mat = library.matrix(MODEL)
    # the floor: one (n, dim) x (dim,) product reads the whole matrix (memory bound)
    figures["raw_matvec_ms"] = _time(lambda: mat @ probe.vector, 50)[0]
    figures["identify_vector_ms"], top = _time(lambda: library.identify_vector(probe, 5), 50)
    assert top[0][0].name == f"Speaker {n // 3:06d}", top[0]
    figures["voiceprints_dict_ms"] = _time(lambda: library.voiceprints(MODEL))[0]
    one = library.get_by_name("Speaker 000042").id
    figures["enroll_one_ms"] = _time(
        lambda: library.enroll(one, Voiceprint(vectors[43], MODEL), 5.0, "y.wav"), 5
    )[0]
    figures["identify_after_write_ms"] = _time(lambda: library.identify_vector(probe, 5))[0]
    library.close()
    figures["reopen_ms"] = _time(lambda: Library(folder / "bench.sqlite3").close())[0]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=192)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vp-bench-") as tmp:
        figures = run(args.speakers, args.dim, Path(tmp))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:26s} {value:12.2f}" if isinstance(value, float) else f"{key:26s} {value:12d}")
        verdict = "OK" if figures["identify_vector_ms"] <= TARGET_IDENTIFY_MS else "SLOW"
        print(f"identify_vector against {args.speakers} speakers: "
              f"{figures['identify_vector_ms']:.2f} ms (target ≤ {TARGET_IDENTIFY_MS:.0f} ms) "
              f"{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
