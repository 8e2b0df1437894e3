"""Job records in SQLite (``jobs.sqlite3`` beside the library, mode 0600).

A record: id (uuid hex), kind, status (``pending``/``running``/``succeeded``/``failed``/
``canceled``), progress 0..1, ISO 8601 UTC ``created``/``started``/``finished``, the
output (JSON) or the typed error (JSON), and the webhook URL with its delivery status.
Finishing is guarded by ``status IN (pending, running)``, so the first of a worker, a
cancel and a shutdown to end a job decides its state and later ones change nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine import paths
from engine.private_files import make_tree_private

ACTIVE = ("pending", "running")
INTERRUPTED_ERROR: dict[str, Any] = {
    "type": "job.interrupted",
    "message": "The server stopped while this job was queued or running: submit it again.",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    output TEXT,
    error TEXT,
    webhook TEXT,
    webhook_status TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jobs_path() -> Path:
    return paths.data_home() / "jobs.sqlite3"


class JobStore:
    """Thread-safe job table (one connection behind a lock)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else jobs_path()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # 0600 from the first byte
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._conn.commit()
        # sqlite makes the -wal/-shm files with the umask's mode: they hold results too
        make_tree_private(self.path.parent, [self.path.name + s for s in ("-wal", "-shm")])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- writes -------------------------------------------------------------------------------
    def create(self, kind: str, webhook: str | None = None) -> str:
        job_id = uuid.uuid4().hex
        hook = json.dumps({"state": "pending", "attempts": 0}) if webhook else None
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO jobs (id, kind, status, created, webhook, webhook_status) "
                "VALUES (?, ?, 'pending', ?, ?, ?)",
                (job_id, kind, now(), webhook, hook),
            )
        return job_id

    def start(self, job_id: str) -> bool:
        """pending -> running; False when the job was canceled (or ended) meanwhile."""
        with self._lock, self._conn:
            cur = self._conn.execute(
                "UPDATE jobs SET status='running', started=? WHERE id=? AND status='pending'",
                (now(), job_id),
            )
        return cur.rowcount == 1

    def set_progress(self, job_id: str, progress: float, message: str = "") -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE jobs SET progress=MAX(progress, ?), message=? "
                "WHERE id=? AND status='running'",
                (float(progress), message, job_id),
            )

    def finish(
        self,
        job_id: str,
        status: str,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
        message: str = "",
    ) -> bool:
        """End an active job; False (nothing changed) when it had already ended."""
        with self._lock, self._conn:
            cur = self._conn.execute(
                "UPDATE jobs SET status=?, finished=?, output=?, error=?, message=?, "
                "progress=CASE WHEN ?='succeeded' THEN 1.0 ELSE progress END "
                "WHERE id=? AND status IN ('pending', 'running')",
                (
                    status, now(),
                    None if output is None else json.dumps(output, ensure_ascii=False),
                    None if error is None else json.dumps(error, ensure_ascii=False),
                    message, status, job_id,
                ),
            )
        return cur.rowcount == 1

    def interrupt_active(self) -> int:
        """Mark every pending/running job failed with ``job.interrupted``; returns how many."""
        with self._lock, self._conn:
            cur = self._conn.execute(
                "UPDATE jobs SET status='failed', finished=?, error=?, message=? "
                "WHERE status IN ('pending', 'running')",
                (now(), json.dumps(INTERRUPTED_ERROR), INTERRUPTED_ERROR["message"]),
            )
        return cur.rowcount

    def delete(self, job_id: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def set_webhook_status(self, job_id: str, status: dict[str, Any]) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE jobs SET webhook_status=? WHERE id=?", (json.dumps(status), job_id)
            )

    def prune(self, max_age_s: float) -> int:
        """Delete ended jobs that finished more than ``max_age_s`` seconds ago."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=max_age_s)).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        with self._lock, self._conn:
            cur = self._conn.execute(
                "DELETE FROM jobs WHERE status NOT IN ('pending', 'running') AND finished < ?",
                (cutoff,),
            )
        return cur.rowcount

    # -- reads --------------------------------------------------------------------------------
    _COLUMNS = ("id, kind, status, progress, message, created, started, finished, output, "
                "error, webhook, webhook_status")

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job as API JSON (see :meth:`_record`), or None."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM jobs WHERE id=?", (job_id,)
            ).fetchone()
        return None if row is None else _record(row, with_output=True)

    def recent(self, *, limit: int = 20, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The newest jobs first (without outputs) and the total number of jobs."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {self._COLUMNS} FROM jobs ORDER BY created DESC, rowid DESC "
                "LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
            total = int(self._conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
        return [_record(r, with_output=False) for r in rows], total


def _record(row: tuple[Any, ...], *, with_output: bool) -> dict[str, Any]:
    (job_id, kind, status, progress, message, created, started, finished, output, error,
     webhook, webhook_status) = row
    out: dict[str, Any] = {
        "jobId": job_id,
        "kind": kind,
        "status": status,
        "progress": round(float(progress), 4),
        "message": message,
        "createdAt": created,
        "startedAt": started,
        "finishedAt": finished,
    }
    if with_output:
        out["output"] = None if output is None else json.loads(output)
    out["error"] = None if error is None else json.loads(error)
    if webhook:
        out["webhook"] = {"url": webhook, **json.loads(webhook_status or "{}")}
    return out
