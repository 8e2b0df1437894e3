"""Crash safety: SIGKILL a process in the middle of a long import, then reopen the library.

The database must pass ``PRAGMA integrity_check`` and hold either the whole import
or nothing of it (one transaction; SQLite's WAL discards uncommitted frames).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.library import EXPORT_FORMAT, Library
from engine.voiceprint import Voiceprint
from tests._helpers_library import DIM, MODEL

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

N_SPEAKERS = 20_000
ROOT = Path(__file__).resolve().parents[1]

# The child imports the export; its progress callback prints a marker on stderr once
# the write transaction has begun. In "paused" mode it then blocks inside the open
# transaction (a deterministic mid-import kill); in "running" mode it keeps writing
# and is killed at whatever point it has reached.
CHILD = r"""
import sys, time
from engine.library import Library
db, export, mode = sys.argv[1:4]
lib = Library(db)
marked = False
def progress(fraction, message=""):
    global marked
    if message == "Writing" and fraction > 0.45 and not marked:
        marked = True
        sys.stderr.write("MIDWAY\n")
        sys.stderr.flush()
        if mode == "paused":
            time.sleep(120)
lib.import_json(export, progress=progress)
sys.stderr.write("DONE\n")
sys.stderr.flush()
"""


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(99)
    vectors = rng.standard_normal((N_SPEAKERS, DIM)).astype(np.float32)
    speakers = [
        {
            "name": f"Speaker {i:05d}",
            "notes": "",
            "enrollments": [
                {"voiceprint": Voiceprint(vectors[i], MODEL).to_base64(), "seconds": 12.0,
                 "source": f"s{i}.wav"}
            ],
        }
        for i in range(N_SPEAKERS)
    ]
    path = tmp_path_factory.mktemp("crash") / "big.json"
    path.write_text(json.dumps({"format": EXPORT_FORMAT, "version": 1, "model_id": MODEL,
                                "speakers": speakers}))
    return path


def _kill_mid_import(db: Path, export: Path, mode: str) -> tuple[int, bool]:
    """Run the child until its marker, SIGKILL it; returns (WAL bytes at kill, finished)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(export), mode],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stderr is not None
        lines = []
        deadline = time.monotonic() + 50
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if line.strip() == "MIDWAY":
                break
        assert lines and lines[-1].strip() == "MIDWAY", "".join(lines)[-2000:]
        if mode == "running":
            time.sleep(0.05)
        wal = Path(str(db) + "-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:  # pragma: no cover - only when an assertion fired early
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return wal_size, "DONE" in rest


def _check_all_or_nothing(db: Path, before: int) -> int:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        speakers = conn.execute("SELECT COUNT(*) FROM speakers").fetchone()[0]
        enrollments = conn.execute("SELECT COUNT(*) FROM enrollments").fetchone()[0]
    finally:
        conn.close()
    assert speakers in (before, before + N_SPEAKERS)
    # the speakers there before have no enrollments; each imported one has exactly one
    assert enrollments == speakers - before
    with Library(db) as library:  # and the library itself opens and works
        assert library.count() == speakers
        library.add_speaker("After the crash")
        assert library.count() == speakers + 1
    return speakers - before


def test_sigkill_while_transaction_open_keeps_nothing(big_export: Path, tmp_path: Path) -> None:
    db = tmp_path / "lib.sqlite3"
    with Library(db) as library:
        library.add_speaker("Existing")
    wal_size, finished = _kill_mid_import(db, big_export, "paused")
    assert not finished
    # The import had really written pages to disk (the WAL) when it was killed.
    assert wal_size > 1_000_000
    assert _check_all_or_nothing(db, before=1) == 0


def test_sigkill_while_writing_is_all_or_nothing(big_export: Path, tmp_path: Path) -> None:
    db = tmp_path / "lib.sqlite3"
    Library(db).close()
    _, finished = _kill_mid_import(db, big_export, "running")
    imported = _check_all_or_nothing(db, before=0)
    if finished:  # the child reported success before the kill: it must all be there
        assert imported == N_SPEAKERS
