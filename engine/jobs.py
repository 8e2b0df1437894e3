"""Qt-free jobs: a plain function, a progress callback and a cancel token.

An engine job is any callable ``fn(progress, cancel) -> result`` where
``progress(fraction, message)`` reports 0..1 and ``cancel`` is a
:class:`CancelToken` the function checks between batches (``cancel.check()``
raises :class:`~engine.errors.Cancelled`). Only :class:`JobRunner` sets job
states (pending, running, succeeded, failed, canceled). The newest request of a
kind wins: submitting a job cancels the running job of the same kind, and
listeners drop results whose job id is not the latest of its kind.
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import Cancelled, VPError

log = logging.getLogger(__name__)


class ProgressFn(Protocol):
    def __call__(self, fraction: float, message: str = "") -> None: ...


def no_progress(fraction: float, message: str = "") -> None:
    """A progress callback that ignores everything."""


class CancelToken:
    """Thread-safe cancel flag checked by job functions between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled()


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED)


@dataclass(frozen=True)
class JobSnapshot:
    """An immutable view of a job, safe to hand to another thread."""

    id: int
    kind: str
    state: JobState
    progress: float
    message: str
    result: Any = None
    error: VPError | None = None


JobFn = Callable[[ProgressFn, CancelToken], Any]
Listener = Callable[[JobSnapshot], None]


@dataclass
class _Job:
    id: int
    kind: str
    fn: JobFn
    token: CancelToken = field(default_factory=CancelToken)
    state: JobState = JobState.PENDING
    progress: float = 0.0
    message: str = ""
    result: Any = None
    error: VPError | None = None
    thread: threading.Thread | None = None

    def snapshot(self) -> JobSnapshot:
        return JobSnapshot(
            self.id, self.kind, self.state, self.progress, self.message, self.result, self.error
        )


class JobRunner:
    """Runs jobs on worker threads (or inline with ``synchronous=True``, for tests).

    ``listener`` is called with a :class:`JobSnapshot` on every state or
    progress change, from the worker thread: a GUI must marshal it to its own
    thread (the GUI's bridge does this with a queued Qt signal).
    """

    def __init__(self, listener: Listener | None = None, *, synchronous: bool = False) -> None:
        self._listener = listener
        self._synchronous = synchronous
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._jobs: dict[int, _Job] = {}
        self._latest: dict[str, int] = {}

    # -- public API -----------------------------------------------------------------
    def submit(self, kind: str, fn: JobFn) -> int:
        """Start ``fn`` as a job of ``kind``; cancels the previous job of that kind."""
        with self._lock:
            job = _Job(next(self._ids), kind, fn)
            previous = self._latest.get(kind)
            self._jobs[job.id] = job
            self._latest[kind] = job.id
        if previous is not None:
            self.cancel(previous)
        self._emit(job)
        if self._synchronous:
            self._run(job)
        else:
            job.thread = threading.Thread(
                target=self._run, args=(job,), name=f"job-{kind}-{job.id}", daemon=True
            )
            job.thread.start()
        return job.id

    def cancel(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is not None and not job.state.finished:
            job.token.cancel()

    def cancel_all(self) -> None:
        for job_id in list(self._jobs):
            self.cancel(job_id)

    def is_latest(self, job_id: int) -> bool:
        """True when ``job_id`` is the newest job of its kind (older results are stale)."""
        job = self._jobs.get(job_id)
        return job is not None and self._latest.get(job.kind) == job_id

    def snapshot(self, job_id: int) -> JobSnapshot:
        return self._jobs[job_id].snapshot()

    def wait(self, job_id: int, timeout: float | None = None) -> JobSnapshot:
        job = self._jobs[job_id]
        if job.thread is not None:
            job.thread.join(timeout)
        return job.snapshot()

    # -- internals ------------------------------------------------------------------
    def _emit(self, job: _Job) -> None:
        if self._listener is not None:
            try:
                self._listener(job.snapshot())
            except Exception:  # a broken listener must not kill the job
                log.exception("job listener failed")

    def _run(self, job: _Job) -> None:
        if job.token.cancelled:
            job.state = JobState.CANCELED
            self._emit(job)
            return
        job.state = JobState.RUNNING
        self._emit(job)

        def progress(fraction: float, message: str = "") -> None:
            job.token.check()
            # monotonic and clamped: callers may report slightly out of order
            job.progress = max(job.progress, min(1.0, max(0.0, float(fraction))))
            if message:
                job.message = message
            self._emit(job)

        try:
            result = job.fn(progress, job.token)
        except Cancelled:
            job.state = JobState.CANCELED
            job.message = "Canceled"
        except VPError as exc:
            job.state = JobState.FAILED
            job.error = exc
            job.message = exc.message
        except Exception as exc:  # unexpected: keep the traceback, report a typed error
            # exc_info, not the text: the log's formatter withholds messages (names)
            log.error("job %s (%s) failed", job.id, job.kind, exc_info=True)
            job.state = JobState.FAILED
            job.error = VPError(f"Unexpected error: {exc}", type="internal.error")
            job.message = job.error.message
        else:
            if job.token.cancelled:
                # cancelled after its last check: the result is stale, drop it
                job.state = JobState.CANCELED
                job.message = "Canceled"
                self._emit(job)
                return
            job.result = result
            job.progress = 1.0
            job.state = JobState.SUCCEEDED
        self._emit(job)
