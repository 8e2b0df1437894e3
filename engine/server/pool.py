"""A bounded worker pool running job functions with the engine's cancel tokens.

``workers`` threads take jobs from a queue of at most ``max_queued`` waiting jobs; a
submit beyond that raises :class:`Busy` (HTTP 503). A job function has the engine's
job signature ``fn(progress, cancel) -> output``; the pool records its state in the
:class:`~engine.server.jobs_store.JobStore` and calls ``on_finished(job_id)`` after.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.errors import Cancelled, VPError
from engine.jobs import CancelToken, ProgressFn
from engine.server.jobs_store import JobStore

log = logging.getLogger(__name__)

JobFn = Callable[[ProgressFn, CancelToken], Any]
PROGRESS_INTERVAL_S = 0.25  # progress writes to SQLite at most this often per job


class Busy(VPError):
    """The job queue is full (``server.busy``, HTTP 503): retry later."""

    type = "server.busy"


class WorkerPool:
    def __init__(
        self,
        store: JobStore,
        *,
        workers: int = 1,
        max_queued: int = 100,
        on_finished: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers),
                                            thread_name_prefix="vp-job")
        self._max_queued = max_queued
        self._on_finished = on_finished
        self._lock = threading.Lock()
        self._tokens: dict[str, CancelToken] = {}
        self._queued = 0

    def submit(self, job_id: str, fn: JobFn, cleanup: Callable[[], None] | None = None) -> None:
        """Queue ``fn`` for the existing pending job ``job_id`` (raises :class:`Busy`)."""
        with self._lock:
            if self._queued >= self._max_queued:
                raise Busy(
                    f"{self._queued} jobs are already waiting: retry later.",
                    context={"max_queued": self._max_queued},
                )
            self._queued += 1
            self._tokens[job_id] = CancelToken()
        self._executor.submit(self._run, job_id, fn, cleanup)

    def cancel(self, job_id: str) -> None:
        with self._lock:
            token = self._tokens.get(job_id)
        if token is not None:
            token.cancel()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel every job and wait (bounded) for the workers to stop."""
        with self._lock:
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for thread in list(getattr(self._executor, "_threads", ())):
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- internals ----------------------------------------------------------------------------
    def _run(self, job_id: str, fn: JobFn, cleanup: Callable[[], None] | None) -> None:
        with self._lock:
            self._queued -= 1
            token = self._tokens[job_id]
        ran = False
        try:
            # a job canceled while it waited was ended (and announced) by the canceller
            if token.cancelled or not self._store.start(job_id):
                return
            ran = True
            self._execute(job_id, fn, token)
        finally:
            with self._lock:
                self._tokens.pop(job_id, None)
            if cleanup is not None:
                try:
                    cleanup()
                except OSError:
                    log.exception("job %s cleanup failed", job_id)
            if ran and self._on_finished is not None:
                try:
                    self._on_finished(job_id)
                except Exception:  # a webhook problem must not kill the worker
                    log.exception("job %s on_finished failed", job_id)

    def _execute(self, job_id: str, fn: JobFn, token: CancelToken) -> None:
        last = [0.0]

        def progress(fraction: float, message: str = "") -> None:
            token.check()
            t = time.monotonic()
            if t - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = t
                self._store.set_progress(job_id, min(1.0, max(0.0, float(fraction))), message)

        try:
            output = fn(progress, token)
        except Cancelled:
            self._store.finish(job_id, "canceled", message="Canceled")
        except VPError as exc:
            self._store.finish(job_id, "failed", error=exc.to_dict(), message=exc.message)
        except Exception as exc:  # unexpected: keep the traceback in the log, report typed
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            error = VPError(f"Unexpected error: {exc}")
            self._store.finish(job_id, "failed", error=error.to_dict(), message=error.message)
        else:
            if token.cancelled:  # canceled after its last check: the output is stale
                self._store.finish(job_id, "canceled", message="Canceled")
            else:
                self._store.finish(job_id, "succeeded", output=output)
