"""Benchmark: importing a big library export (peak memory and time).

Writes an export of about ``--mib`` MiB (random 192-d unit voiceprints, one speaker per
``--per-speaker`` enrollments, the layout ``Library.export_json`` writes), then imports
it into a fresh library in a child process and reports the child's peak RSS and wall
time. ``--json-loads`` also measures the old way (``json.loads`` of the whole file) in
another child, for comparison. Target: peak RSS ≤ 300 MB for a 512 MiB file.

    python bench/bench_import.py [--mib 512] [--per-speaker 4] [--json-loads]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.library import EXPORT_FORMAT  # noqa: E402
from engine.voiceprint import Voiceprint  # noqa: E402

MODEL = "bench-model@1"
TARGET_MB = 300.0

IMPORT = r"""
import sys, time
from engine.library import Library
lib = Library(sys.argv[1])
t = time.perf_counter()
report = lib.import_json(sys.argv[2])
print(time.perf_counter() - t, report.enrollments)
"""
JSON_LOADS = r"""
import json, sys, time
from pathlib import Path
t = time.perf_counter()
doc = json.loads(Path(sys.argv[2]).read_bytes())
print(time.perf_counter() - t, sum(len(s["enrollments"]) for s in doc["speakers"]))
"""


def write_export(path: Path, mib: float, per_speaker: int) -> tuple[int, int]:
    """Write the export; returns (bytes, enrollments)."""
    rng = np.random.default_rng(0)
    target = int(mib * 2**20)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"format": EXPORT_FORMAT, "version": 1, "model_id": MODEL,
                            "exported": "2026-01-01T00:00:00.000Z"})[:-1] + ', "speakers": [\n')
        i = 0
        while f.tell() < target - 2**16:  # stay under the limit: MAX_IMPORT_BYTES is 512 MiB
            v = rng.standard_normal((per_speaker, 192)).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            entry = {
                "name": f"Speaker {i:07d}", "notes": "", "colour": "#4e79a7",
                "created": "2026-01-01T00:00:00.000Z",
                "enrollments": [
                    {"voiceprint": Voiceprint(row, MODEL).to_base64(), "model_id": MODEL,
                     "dim": 192, "seconds": 12.5, "source": f"rec{i}.wav",
                     "created": "2026-01-01T00:00:00.000Z"}
                    for row in v
                ],
            }
            f.write(("," if i else "") + json.dumps(entry, indent=1))
            i += 1
            n += per_speaker
        f.write("]}\n")
    return path.stat().st_size, n


def child(code: str, db: Path, export: Path, root: Path = ROOT) -> tuple[float, float, int]:
    """Run ``code`` in a fresh interpreter on the engine at ``root``; (peak RSS MB,
    seconds, enrollments). Peak RSS is read from /proc by the child's parent: ``/usr/bin/
    time``-like, via wait4's rusage of that one child."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db), str(export)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(root)),
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}): {err[-2000:]}")
    seconds, count = out.split()
    return usage.ru_maxrss / 1024.0, float(seconds), int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=512.0)
    parser.add_argument("--per-speaker", type=int, default=4)
    parser.add_argument("--compare-with", type=Path, metavar="REPO",
                        help="also import with the engine of another checkout (e.g. main)")
    parser.add_argument("--json-loads", action="store_true",
                        help="also measure json.loads of the whole file (needs ~25x the file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vp-bench-import-") as tmp:
        export = Path(tmp) / "big.json"
        t = time.perf_counter()
        size, n = write_export(export, args.mib, args.per_speaker)
        print(f"export: {size / 2**20:.1f} MiB, {n} enrollments "
              f"(written in {time.perf_counter() - t:.1f} s)")
        peak, seconds, count = child(IMPORT, Path(tmp) / "lib.sqlite3", export)
        assert count == n
        verdict = "ok" if peak <= TARGET_MB else "OVER TARGET"
        print(f"import_json: peak RSS {peak:.0f} MB (target <= {TARGET_MB:.0f}: {verdict}), "
              f"{seconds:.1f} s, {count / seconds:.0f} enrollments/s")
        if args.compare_with:
            peak, seconds, count = child(IMPORT, Path(tmp) / "lib2.sqlite3", export,
                                         args.compare_with.resolve())
            print(f"import_json of {args.compare_with}: peak RSS {peak:.0f} MB, "
                  f"{seconds:.1f} s, {count / seconds:.0f} enrollments/s")
        if args.json_loads:
            peak, seconds, _ = child(JSON_LOADS, Path(tmp) / "unused", export)
            print(f"json.loads of the whole file (the old reader, parsing only): "
                  f"peak RSS {peak:.0f} MB, {seconds:.1f} s")


if __name__ == "__main__":
    main()
