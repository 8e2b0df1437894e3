"""Run ``engine.jobs`` jobs from the GUI without ever touching widgets off the main thread.

``JobRunner`` calls its listener from worker threads. The listener here only
emits a Qt signal; the connection is queued, so the slot runs on the thread that
owns the bridge (the main thread), where per-job callbacks are called. Results
of a job that is no longer the newest of its kind are dropped (a new run
supersedes the old one), and canceled jobs apply nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from engine.errors import VPError
from engine.jobs import JobFn, JobRunner, JobSnapshot, JobState

log = logging.getLogger(__name__)


@dataclass
class _Callbacks:
    on_done: Callable[[Any], None] | None
    on_error: Callable[[VPError], None] | None
    on_canceled: Callable[[], None] | None


class JobsBridge(QObject):
    """Qt face of a :class:`JobRunner`.

    Signals (all on the main thread):
        progress(JobSnapshot): a running job of the newest kind reported progress.
        finished(JobSnapshot): a job ended (any state) and is still the newest of its kind.
        stale(JobSnapshot): a job ended but was superseded; its result was dropped.
        busy_changed(bool): whether any job is running.
    """

    progress = Signal(object)
    finished = Signal(object)
    stale = Signal(object)
    busy_changed = Signal(bool)
    _relay = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(self._listener)
        self._callbacks: dict[int, _Callbacks] = {}
        self._running: set[int] = set()
        self._lock = threading.Lock()
        self._pending_progress: dict[int, JobSnapshot] = {}
        self._latest_ids: dict[str, int] = {}
        self._closed = False
        self.last: dict[str, JobSnapshot] = {}  # newest final snapshot per kind (tests read it)
        self._relay.connect(self._on_snapshot, Qt.ConnectionType.QueuedConnection)

    # -- worker-thread side: only emit -------------------------------------------------
    def _listener(self, snap: JobSnapshot) -> None:
        if self._closed:
            return
        if not snap.state.finished and snap.state is JobState.RUNNING and snap.progress > 0:
            # coalesce progress floods: only one pending delivery per job
            with self._lock:
                queued = snap.id in self._pending_progress
                self._pending_progress[snap.id] = snap
            if queued:
                return
        try:
            self._relay.emit(snap)
        except RuntimeError:  # the bridge's C++ object is gone (window closed at exit)
            self._closed = True

    # -- main-thread side ----------------------------------------------------------
    def submit(
        self,
        kind: str,
        fn: JobFn,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[VPError], None] | None = None,
        on_canceled: Callable[[], None] | None = None,
    ) -> int:
        """Start ``fn(progress, cancel)`` as a job of ``kind``; callbacks run on the main thread.

        Registering the callbacks after ``submit`` is safe: snapshots reach
        ``_on_snapshot`` through the queued connection, i.e. only once control
        returns to this (main) thread's event loop.
        """
        was = self.busy
        job_id = self.runner.submit(kind, fn)
        self._latest_ids[kind] = job_id
        if not self.runner.snapshot(job_id).state.finished:  # synchronous runners finish inline
            self._running.add(job_id)
        if was != self.busy:
            self.busy_changed.emit(self.busy)
        self._callbacks[job_id] = _Callbacks(on_done, on_error, on_canceled)
        return job_id

    def cancel(self, job_id: int) -> None:
        self.runner.cancel(job_id)

    def cancel_kind(self, kind: str) -> None:
        latest = self._latest_ids.get(kind)
        if latest is not None:
            self.runner.cancel(latest)

    def cancel_all(self) -> None:
        self.runner.cancel_all()

    def shutdown(self) -> None:
        """Cancel every job and stop relaying: call before the window goes away."""
        self.runner.cancel_all()
        self._closed = True

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def is_running(self, kind: str) -> bool:
        latest = self._latest_ids.get(kind)
        return latest is not None and not self.runner.snapshot(latest).state.finished

    @Slot(object)
    def _on_snapshot(self, snap: JobSnapshot) -> None:
        if not snap.state.finished:
            with self._lock:
                pending = self._pending_progress.pop(snap.id, None)
            if pending is not None:
                snap = pending
            if snap.state.finished:  # pragma: no cover - progress never carries a final state
                return
            was = self.busy
            self._running.add(snap.id)
            if was != self.busy:
                self.busy_changed.emit(True)
            if self.runner.is_latest(snap.id):
                self.progress.emit(snap)
            return
        with self._lock:
            self._pending_progress.pop(snap.id, None)
        was = self.busy
        self._running.discard(snap.id)
        cbs = self._callbacks.pop(snap.id, None)
        if was != self.busy:
            self.busy_changed.emit(False)
        if not self.runner.is_latest(snap.id):
            log.info("dropping stale %s job %s (%s)", snap.kind, snap.id, snap.state.value)
            self.stale.emit(snap)
            return
        self.last[snap.kind] = snap
        self.finished.emit(snap)
        if cbs is None:
            return
        try:
            if snap.state is JobState.SUCCEEDED and cbs.on_done is not None:
                cbs.on_done(snap.result)
            elif snap.state is JobState.FAILED and cbs.on_error is not None:
                cbs.on_error(snap.error or VPError(snap.message))
            elif snap.state is JobState.CANCELED and cbs.on_canceled is not None:
                cbs.on_canceled()
        except Exception:  # a failing callback must not break the event loop
            log.exception("job callback for %s failed", snap.kind)

