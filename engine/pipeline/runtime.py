"""Model calls on a worker thread (so a cancel answers at once) and batch pacing."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from engine.jobs import CancelToken

CANCEL_POLL_S = 0.05
"""How often the caller polls the cancel token while a model batch runs, seconds."""


class ModelWorker:
    """Runs model calls on one background thread, polling ``cancel`` while waiting.

    Without a cancel token the call runs on the caller's thread. A cancelled call's
    batch finishes in the background and is dropped.
    """

    def __init__(self, cancel: CancelToken | None) -> None:
        self._cancel = cancel
        self._pool = (
            concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="identify")
            if cancel is not None
            else None
        )

    def __call__(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._pool is None or self._cancel is None:
            return fn(*args, **kwargs)
        self._cancel.check()
        fut = self._pool.submit(fn, *args, **kwargs)
        while True:
            try:
                return fut.result(timeout=CANCEL_POLL_S)
            except concurrent.futures.TimeoutError:
                self._cancel.check()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)


class Pacer:
    """Picks batch sizes so one model call takes about ``target`` seconds.

    ``size`` starts at ``first`` and stays in ``[1, most]``; :meth:`timed` adapts it
    from the last call (``units`` of work in ``seconds`` of wall time).
    """

    def __init__(self, target: float, first: int, most: int) -> None:
        self.target = target
        self.size = first
        self.most = most

    def timed(self, units: float, seconds: float) -> None:
        if units > 0 and seconds > 0:
            per = seconds / units
            self.size = int(min(self.most, max(1, self.target / per)))


class Checker:
    """``check()`` raises :class:`~engine.errors.Cancelled` once ``cancel`` is set."""

    def __init__(self, cancel: CancelToken | None) -> None:
        self._cancel = cancel

    def __call__(self) -> None:
        if self._cancel is not None:
            self._cancel.check()
