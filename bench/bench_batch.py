"""``vpstudio batch`` against a shell loop of ``vpstudio identify`` (issue 16).

Builds ``--files`` recordings of real speech, ``--min-minutes`` to ``--max-minutes``
long (tiled from the pyannote sample's two speakers and two CMU ARCTIC voices by
``tests/_helpers_identify.tiled_speech``, random gain, speed and gaps; 16 kHz WAV), then
times, in one run and in this order:

- ``loop``: one ``vpstudio identify FILE -o OUT`` process per file, one after the other
  (what a shell loop does: every file pays the start-up and the model loads);
- ``batch-1``: ``vpstudio batch DIR --out OUT --workers 1``;
- ``batch-2``: ``vpstudio batch DIR --out OUT --workers 2``.

For each it prints the wall time, the audio hours per wall hour, and the per-file
overhead: ``(wall x workers - compute) / files``, the worker seconds per file not
spent identifying, where ``compute`` is the sum of the batch's ``compute_s`` column
(seconds inside identification) for the batches, and the batch-1 run's sum for the
loop (same work, one process per file, ``workers`` = 1). The outputs of
the three are checked to be identical. The machine's load (``os.getloadavg``) is printed
with each figure: the timings are only comparable within one run.

    python bench/bench_batch.py                      # 40 files of 1-5 min
    python bench/bench_batch.py --files 6 --max-minutes 2
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from tests import _helpers_identify as H  # noqa: E402


def _load() -> str:
    a, b, c = os.getloadavg()
    return f"load {a:.1f} {b:.1f} {c:.1f}"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], env=env,
                          capture_output=True, text=True)


def _compute(summary: Path) -> float:
    with open(summary, encoding="utf-8") as f:
        return sum(float(r["compute_s"]) for r in csv.DictReader(f) if r["status"] == "ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--min-minutes", type=float, default=1.0)
    ap.add_argument("--max-minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    env = {**os.environ, "VPSTUDIO_HOME": str(work / "home"), "PYTHONPATH": str(ROOT)}
    rng = np.random.default_rng(args.seed)
    inputs = work / "in"
    inputs.mkdir()
    total = 0.0
    for i in range(args.files):
        seconds = float(rng.uniform(args.min_minutes, args.max_minutes)) * 60
        x, _ = H.tiled_speech(seconds, seed=args.seed + i)
        sf.write(inputs / f"rec{i:03d}.wav", x, H.SR, subtype="PCM_16")
        total += x.shape[0] / H.SR
    files = sorted(inputs.glob("*.wav"))
    print(f"{len(files)} files, {total / 3600:.2f} h of audio ({total / len(files) / 60:.1f} min "
          f"each on average); {os.cpu_count()} CPUs; {_load()}")
    # the one-time ONNX exports (cache) and the library folder before anything is timed
    warm = _cli("identify", str(files[0]), "-o", str(work / "warm.json"), env=env)
    assert warm.returncode == 0, warm.stderr

    results: dict[str, tuple[float, float, str]] = {}
    out_loop = work / "out-loop"
    out_loop.mkdir()
    t0 = time.perf_counter()
    for f in files:
        r = _cli("identify", str(f), "-o", str(out_loop / f"{f.stem}.json"), env=env)
        assert r.returncode == 0, r.stderr
    results["loop"] = (time.perf_counter() - t0, float("nan"), _load())
    for n in (1, 2):
        out = work / f"out-batch-{n}"
        t0 = time.perf_counter()
        r = _cli("batch", str(inputs), "--out", str(out), "--workers", str(n), env=env)
        wall = time.perf_counter() - t0
        assert r.returncode == 0, r.stderr
        results[f"batch-{n}"] = (wall, _compute(out / "summary.csv"), _load())
    same = all((out_loop / f"{f.stem}.json").read_bytes()
               == (work / f"out-batch-{n}" / f"{f.stem}.json").read_bytes()
               for f in files for n in (1, 2))
    compute1 = results["batch-1"][1]
    print(f"{'mode':<9} {'wall s':>8} {'audio h / h':>11} {'overhead s/file':>16}  load after")
    for mode, (wall, compute, load) in results.items():
        c, n = (compute1, 1) if mode == "loop" else (compute, int(mode[-1]))
        print(f"{mode:<9} {wall:8.1f} {total / wall:11.1f} {(wall * n - c) / len(files):16.2f}"
              f"  {load}")
    print(f"outputs identical in the three modes: {same}")
    print(f"(files kept in {work})")


if __name__ == "__main__":
    main()
