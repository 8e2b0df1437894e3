"""Bench: the local HTTP API's request overhead against the CLI, and how queued jobs drain.

Starts ``vpstudio serve`` as a subprocess on 127.0.0.1 (a free port, a temporary data
folder) and prints

* the CLI's wall time for ``vpstudio --json identify FILE`` (a cold process: imports and
  model loading included), the API's wall time for the same file on a warm server
  (POST /v1/identify -> poll until succeeded), the job's own run time (its record's
  startedAt -> finishedAt) and the difference: what HTTP, JSON, SQLite and polling add;
* the median round trip of ``GET /v1/jobs/{id}``;
* 20 identify jobs submitted at once (short clip, ``--workers N``): how long the queue
  takes to drain, jobs per minute, and the median / max wait (created -> started).

Run: ``.venv/bin/python bench/bench_api.py [--file F] [--drain-file F] [--jobs 20]
[--workers 1]``. Figures only; exit status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
POLL_S = 0.05


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _t(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _cli(home: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.cli", "--home", home, *args],
                          capture_output=True, text=True, timeout=1800, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@contextlib.contextmanager
def server(home: str, workers: int) -> Iterator[httpx.Client]:
    token = _cli(home, "serve", "--print-token").stdout.strip()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "--home", home, "serve", "--port", str(port),
         "--workers", str(workers)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}",
                          headers={"Authorization": f"Bearer {token}"}, timeout=60.0)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if client.get("/v1/jobs").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield client
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def wait(client: httpx.Client, job_id: str, timeout: float = 1800.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if rec["status"] in ("succeeded", "failed", "canceled"):
            return rec
        time.sleep(POLL_S)
    raise TimeoutError(job_id)


def identify(client: httpx.Client, path: Path) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    job_id = client.post("/v1/identify", json={"url": str(path)}).json()["jobId"]
    rec = wait(client, job_id)
    return time.perf_counter() - t0, rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=DATA / "pyannote_sample.wav")
    ap.add_argument("--drain-file", type=Path, default=DATA / "arctic_slt_a0009.wav")
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="vpstudio-bench-api-")
    try:
        run(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(args: argparse.Namespace, home: str) -> None:
    t0 = time.perf_counter()
    proc = _cli(home, "--json", "identify", str(args.file))
    t_cli = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"vpstudio identify failed: {proc.stdout}{proc.stderr}")

    with server(home, args.workers) as client:
        identify(client, args.drain_file)  # warm-up: the server's first job loads the models
        t_api, rec = identify(client, args.file)
        assert rec["status"] == "succeeded", rec
        t_run = _t(rec["finishedAt"]) - _t(rec["startedAt"])
        rtts = []
        for _ in range(50):
            t1 = time.perf_counter()
            client.get(f"/v1/jobs/{rec['jobId']}")
            rtts.append((time.perf_counter() - t1) * 1000)

        t1 = time.perf_counter()
        ids = [client.post("/v1/identify", json={"url": str(args.drain_file)}).json()["jobId"]
               for _ in range(args.jobs)]
        t_submit = time.perf_counter() - t1
        recs = [wait(client, i) for i in ids]
        t_drain = time.perf_counter() - t1
    ok = sum(r["status"] == "succeeded" for r in recs)
    waits = [_t(r["startedAt"]) - _t(r["createdAt"]) for r in recs if r["startedAt"]]
    runs = [_t(r["finishedAt"]) - _t(r["startedAt"]) for r in recs if r["startedAt"]]

    print(f"file: {args.file.name}; load: {os.getloadavg()[0]:.1f} (1 min average)")
    print(f"CLI  vpstudio --json identify (cold process):   {t_cli:7.2f} s")
    print(f"API  POST /v1/identify -> succeeded (warm):     {t_api:7.2f} s")
    print(f"     of which the job ran (startedAt->finishedAt): {t_run:7.2f} s")
    print(f"     API overhead (HTTP, JSON, SQLite, polling):   {t_api - t_run:7.3f} s")
    print(f"     CLI / API wall-time ratio:                    {t_cli / t_api:7.2f}")
    print(f"GET /v1/jobs/{{id}} round trip: median {statistics.median(rtts):.2f} ms, "
          f"max {max(rtts):.2f} ms (50 calls)")
    print(f"drain: {args.jobs} jobs of {args.drain_file.name}, --workers {args.workers}: "
          f"submitted in {t_submit:.2f} s, all ended in {t_drain:.1f} s "
          f"({ok} succeeded), {60 * args.jobs / t_drain:.1f} jobs/min")
    if waits:
        print(f"       per job run: median {statistics.median(runs):.2f} s; wait before "
              f"start: median {statistics.median(waits):.1f} s, max {max(waits):.1f} s")


if __name__ == "__main__":
    main()
