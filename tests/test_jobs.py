"""The Qt-free job runner: states, monotonic progress, cancel, newest-wins."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import Cancelled, MediaUnreadable
from engine.jobs import CancelToken, JobRunner, JobSnapshot, JobState


def test_synchronous_success_reports_monotonic_progress() -> None:
    seen: list[JobSnapshot] = []
    runner = JobRunner(seen.append, synchronous=True)

    def work(progress, cancel):
        for f in (0.1, 0.5, 0.3, 0.9):  # 0.3 arrives late: must not move progress back
            progress(f, f"step {f}")
        return 42

    job_id = runner.submit("identify", work)
    snap = runner.snapshot(job_id)
    assert snap.state is JobState.SUCCEEDED and snap.result == 42 and snap.progress == 1.0
    states = [s.state for s in seen]
    assert states[0] is JobState.PENDING and JobState.RUNNING in states
    progresses = [s.progress for s in seen]
    assert progresses == sorted(progresses)


def test_typed_error_fails_the_job() -> None:
    runner = JobRunner(synchronous=True)

    def work(progress, cancel):
        raise MediaUnreadable("corrupt header", location="x.wav")

    snap = runner.snapshot(runner.submit("load", work))
    assert snap.state is JobState.FAILED
    assert snap.error is not None and snap.error.type == "media.unreadable"


def test_unexpected_exception_becomes_internal_error() -> None:
    runner = JobRunner(synchronous=True)
    snap = runner.snapshot(runner.submit("x", lambda p, c: 1 / 0))
    assert snap.state is JobState.FAILED and snap.error is not None
    assert snap.error.type == "internal.error"


def test_cancel_stops_a_running_job_quickly() -> None:
    runner = JobRunner()
    started = threading.Event()

    def work(progress, cancel: CancelToken):
        started.set()
        while True:
            cancel.check()
            time.sleep(0.01)

    job_id = runner.submit("identify", work)
    assert started.wait(5)
    runner.cancel(job_id)
    snap = runner.wait(job_id, timeout=0.5)
    assert snap.state is JobState.CANCELED


def test_newest_job_of_a_kind_wins() -> None:
    runner = JobRunner()
    gate = threading.Event()

    def slow(progress, cancel: CancelToken):
        while not gate.is_set():
            cancel.check()
            time.sleep(0.01)
        return "old"

    first = runner.submit("identify", slow)
    second = runner.submit("identify", lambda p, c: "new")
    gate.set()
    assert runner.wait(first, 5).state is JobState.CANCELED
    assert runner.wait(second, 5).result == "new"
    assert not runner.is_latest(first) and runner.is_latest(second)
    other = runner.submit("enroll", lambda p, c: "other kind")
    assert runner.wait(other, 5).state is JobState.SUCCEEDED and runner.is_latest(second)


def test_cancel_token_check_raises() -> None:
    token = CancelToken()
    token.check()
    token.cancel()
    with pytest.raises(Cancelled):
        token.check()
