"""``vpstudio batch`` on real Dask clusters (issue 16).

A real ``LocalCluster`` of 2 worker processes identifies a handful of short real
recordings plus a corrupt and a silent file: every output equals what single-file
``vpstudio identify -o`` writes, the summary rows say what happened, a second run skips
what is done, runs stopped by Ctrl+C and by SIGKILL resume. Then a scheduler and a
worker started as separate processes on 127.0.0.1 take a batch given ``--scheduler``,
and the first batch, under strace, opens no socket off loopback. Every process a test starts is
in its own process group, and the test checks that none of it is left.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SHORT = ["arctic_pysptk_a0007.wav", "arctic_slt_a0009.wav", "calib_cards.ogg"]
TIMEOUT = 300

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="process groups read from /proc"),
]


# ------------------------------------------------------------------------------ helpers
def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(d.name))
    return found


def assert_group_gone(pgid: int, wait_s: float = 20.0) -> None:
    deadline = time.monotonic() + wait_s
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = group_members(pgid)
    if left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "VPSTUDIO_HOME": str(home), "PYTHONPATH": str(ROOT)}


def batch_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine.cli", *args]


def _strace(log: Path) -> list[str]:
    """The strace prefix that logs every network call of the process tree to ``log``
    (``tests/test_no_network.py``'s settings), or [] where strace cannot trace."""
    from tests import test_no_network as net

    if net.STRACE is None:
        return []
    probe = subprocess.run([net.STRACE, "-f", "-o", os.devnull, "true"], capture_output=True,
                           timeout=60)
    if probe.returncode != 0:
        return []
    fast = subprocess.run([net.STRACE, "--seccomp-bpf", "-f", "-qq", "-e", "trace=network",
                           "-o", os.devnull, "true"], capture_output=True, text=True, timeout=60)
    speed = ["--seccomp-bpf"] if fast.returncode == 0 and not fast.stderr.strip() else []
    return [net.STRACE, *speed, "-f", "-qq", "-s", "128", "-e", "trace=network", "-e",
            "signal=none", "-o", str(log)]


def run_batch(world: dict[str, Any], *args: str,
              prefix: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    """Run ``vpstudio batch ARGS`` to its end in its own process group; none of it left."""
    proc = subprocess.Popen([*prefix, *batch_argv(*args)], env=world["env"],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert_group_gone(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def summary(out_dir: Path) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO((out_dir / "summary.csv").read_text(encoding="utf-8")))
    return {Path(r["path"]).name: r for r in rows}


def _identify(args: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["--json", *args])
    return code, buf.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Inputs, a library with one speaker, and each input's single-file identify output."""
    tmp = tmp_path_factory.mktemp("batch")
    home, inputs, ref = tmp / "home", tmp / "in", tmp / "ref"
    inputs.mkdir()
    ref.mkdir()
    for name in SHORT:
        shutil.copy(DATA / name, inputs / name)
    (inputs / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + os.urandom(3000))
    sf.write(inputs / "silent.wav", np.zeros(16000 * 4, np.float32), 16000)
    expected: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VPSTUDIO_HOME", str(home))
        code, _ = _identify(["enroll", "Slt", str(DATA / "arctic_slt_a0009.wav"), "--force"])
        assert code == 0
        for f in sorted(inputs.iterdir()):
            code, text = _identify(["identify", str(f), "-o", str(ref / f"{f.stem}.json")])
            expected[f.name] = (code, json.loads(text))
        shutil.copy(DATA / "pyannote_sample.wav", tmp / "pyannote_sample.wav")
        code, _ = _identify(["identify", str(tmp / "pyannote_sample.wav"), "-o",
                             str(ref / "pyannote_sample.json")])
        assert code == 0
    assert expected["corrupt.wav"][0] == 3 and expected["silent.wav"][0] == 0
    yield {"tmp": tmp, "home": home, "inputs": inputs, "ref": ref, "expected": expected,
           "env": _env(home)}


# -------------------------------------------------------------------------------- tests
def test_local_cluster_outputs_summary_skip_and_force(world: dict[str, Any]) -> None:
    inputs, ref, out = world["inputs"], world["ref"], world["tmp"] / "out1"
    log = world["tmp"] / "strace.log"
    trace = _strace(log)  # the first run is watched: no socket off loopback
    r = run_batch(world, "--json", "batch", str(inputs), "--out", str(out), "--workers", "2",
                  prefix=trace)
    assert r.returncode == 1, r.stderr[-3000:]  # the corrupt file failed; the rest went on
    if trace:
        check_loopback_only(log.read_text(encoding="utf-8", errors="replace"))
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted(Path(x["path"]).name for x in lines) == sorted(world["expected"])
    # each output is byte for byte what vpstudio identify -o writes
    for name in [*SHORT, "silent.wav"]:
        stem = Path(name).stem
        assert (out / f"{stem}.json").read_bytes() == (ref / f"{stem}.json").read_bytes(), name
    assert not (out / "corrupt.json").exists()
    rows = summary(out)
    assert list(rows) == sorted(world["expected"])  # input order: sorted paths of the folder
    corrupt_error = world["expected"]["corrupt.wav"][1]["error"]
    assert rows["corrupt.wav"]["status"] == "failed"
    assert rows["corrupt.wav"]["error_type"] == corrupt_error["type"] == "media.unreadable"
    assert rows["corrupt.wav"]["error_message"] == corrupt_error["message"]
    for name in [*SHORT, "silent.wav"]:
        row = rows[name]
        doc = json.loads((ref / f"{Path(name).stem}.json").read_text())
        speakers = sorted({t["speaker"] for t in doc["identification"]})
        assert row["status"] == "ok" and row["error_type"] == "" and row["output"]
        assert sorted(filter(None, row["speakers"].split(";"))) == speakers
        assert int(row["num_speakers"]) == len(speakers)
        assert float(row["duration_s"]) == pytest.approx(sf.info(inputs / name).duration,
                                                         abs=0.01)
        assert float(row["compute_s"]) > 0
    assert rows["arctic_slt_a0009.wav"]["speakers"] == "Slt"  # named from the library
    assert rows["silent.wav"]["num_speakers"] == "0"

    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    r2 = run_batch(world, "batch", str(inputs), "--out", str(out), "--workers", "2")
    assert r2.returncode == 1, r2.stderr[-3000:]
    rows2 = summary(out)
    assert {n: r["status"] for n, r in rows2.items()} == {
        **{n: "skipped" for n in [*SHORT, "silent.wav"]}, "corrupt.wav": "failed"}
    assert rows2["arctic_slt_a0009.wav"]["speakers"] == "Slt"
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")} == stamps

    listing = world["tmp"] / "one.txt"
    listing.write_text(f"{inputs / 'arctic_slt_a0009.wav'}\n")
    r3 = run_batch(world, "batch", str(listing), "--out", str(out), "--workers", "1", "--force")
    assert r3.returncode == 0, r3.stderr[-3000:]
    assert summary(out)["arctic_slt_a0009.wav"]["status"] == "ok"
    slt = out / "arctic_slt_a0009.json"
    assert slt.stat().st_mtime_ns != stamps[slt.name]
    assert slt.read_bytes() == (ref / slt.name).read_bytes()


def _start(world: dict[str, Any], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(batch_argv(*args), env=world["env"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_outputs(out: Path, more_than: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while len(list(out.glob("*.json"))) <= more_than:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_stopped_and_killed_runs_resume(world: dict[str, Any]) -> None:
    inputs = world["tmp"] / "many"
    inputs.mkdir()
    for i in range(6):
        shutil.copy(world["tmp"] / "pyannote_sample.wav", inputs / f"p{i}.wav")
    out = world["tmp"] / "out2"
    argv = ("batch", str(inputs), "--out", str(out), "--workers", "2")

    # Ctrl+C (SIGINT to the whole process group, as a terminal sends it)
    proc = _start(world, *argv)
    try:
        _wait_for_outputs(out, 0, proc)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-3000:]
    assert "Stopped: the files finished are kept" in err
    assert_group_gone(proc.pid)
    rows = summary(out)
    done1 = {n for n, r in rows.items() if r["status"] == "ok"}
    assert done1 and {r["status"] for r in rows.values()} <= {"ok", "canceled"}
    assert {p.stem for p in out.glob("*.json")} == {Path(n).stem for n in done1}

    # SIGKILL of everything, client and workers, as soon as one more file is done
    proc = _start(world, *argv)
    try:
        _wait_for_outputs(out, len(done1), proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert_group_gone(proc.pid)
    done2 = {p.stem for p in out.glob("*.json")}
    assert len(done2) > len(done1)

    r = run_batch(world, *argv)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = summary(out)
    assert {Path(n).stem for n, x in rows.items() if x["status"] == "skipped"} >= done2 - {
        "summary"}
    assert {x["status"] for x in rows.values()} <= {"ok", "skipped"} and len(rows) == 6
    reference = (world["ref"] / "pyannote_sample.json").read_bytes()
    for i in range(6):
        assert (out / f"p{i}.json").read_bytes() == reference


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert_group_gone(proc.pid)


def test_scheduler_and_worker_processes(world: dict[str, Any]) -> None:
    tmp, env = world["tmp"], world["env"]
    info = tmp / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    scheduler = subprocess.Popen(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(info)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    worker: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 120
        while not (info.exists() and info.stat().st_size):
            assert scheduler.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = subprocess.Popen(
            [*dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
             "--host", "127.0.0.1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        inputs = world["inputs"]
        files = [str(inputs / n) for n in (SHORT[1], SHORT[2], "corrupt.wav")]
        out = tmp / "out3"
        r = run_batch(world, "batch", *files, "--out", str(out), "--scheduler", address)
        assert r.returncode == 1, r.stderr[-3000:]
        assert {n: x["status"] for n, x in summary(out).items()} == {
            SHORT[1]: "ok", SHORT[2]: "ok", "corrupt.wav": "failed"}
        for name in SHORT[1:]:
            stem = Path(name).stem
            assert (out / f"{stem}.json").read_bytes() == (world["ref"] / f"{stem}.json"
                                                           ).read_bytes()
        assert worker.poll() is None and scheduler.poll() is None  # the cluster stays up
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)


_BIND = re.compile(r'bind\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\(\d+\), .*?'
                   r'(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")')


def check_loopback_only(log: str) -> None:
    """No connection or packet off loopback, no name lookup (test_no_network's rules),
    and every listening socket (scheduler, workers, nannies) bound to loopback."""
    from tests import test_no_network as net

    assert net.violations(log) == []
    binds = [a or b for a, b in _BIND.findall(log)]
    assert binds, "no bind() seen: the trace did not follow the workers"
    assert all(net._local(a) and not a.startswith("0.") and a != "::" for a in binds), (
        sorted(set(binds)))
