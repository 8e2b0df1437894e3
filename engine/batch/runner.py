"""The batch client: a Dask cluster, bounded submission, outputs, manifest, summary.

:func:`run_batch` connects to a Dask scheduler (``scheduler``) or starts a
``LocalCluster`` of ``workers`` processes with one thread each on 127.0.0.1 (no
dashboard), registers :class:`WarmUp` (every worker loads the models once, as it
joins), sends the voiceprints to every worker once (``scatter(broadcast=True)``) and
submits :func:`engine.batch.work.identify_file` for at most as many files as the
cluster has worker threads: a worker never holds more than the one file it
identifies. Each result is written atomically as soon as it arrives, then recorded in
the manifest (:mod:`engine.batch.manifest`). ``DIR/summary.csv`` is written at the
end, also after a cancel (rows of files not done say ``canceled``); the cluster is
always shut down (a LocalCluster) or left (a scheduler given).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin, as_completed

from engine.batch.inputs import BatchItem
from engine.batch.manifest import BatchSettings, Manifest
from engine.batch.work import FileOutcome, FileTask, LibrarySnapshot, identify_file, warm_up_worker
from engine.errors import Cancelled, VPError
from engine.files import os_error
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.private_files import private_dir

log = logging.getLogger(__name__)

SUMMARY_NAME = "summary.csv"
SUMMARY_FIELDS = ("path", "status", "error_type", "error_message", "duration_s",
                  "num_speakers", "speakers", "compute_s", "output")
WORKER_WAIT_S = 120.0
"""How long a batch on a scheduler waits for its first worker."""
GiB = 1 << 30


@dataclass(frozen=True)
class BatchRow:
    """One row of ``summary.csv``.

    Attributes:
        path: the input file (absolute).
        status: ``ok``, ``failed``, ``skipped`` (done by an earlier run with the same
            settings and library) or ``canceled`` (not done: the batch was stopped).
        error_type, error_message: the typed error of a failed file (else empty).
        duration_s: the audio's duration in seconds (None when unknown).
        speakers: the speaker labels found (names, ``UNKNOWN_nn``).
        compute_s: wall seconds a worker spent on the file in this run.
        output: the output file, relative to the output folder (ok / skipped).
    """

    path: str
    status: str
    error_type: str = ""
    error_message: str = ""
    duration_s: float | None = None
    speakers: tuple[str, ...] = ()
    compute_s: float = 0.0
    output: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (the ``--json`` lines)."""
        return {
            "path": self.path, "status": self.status,
            "error": ({"type": self.error_type, "message": self.error_message}
                      if self.status == "failed" else None),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "num_speakers": len(self.speakers), "speakers": list(self.speakers),
            "compute_s": round(self.compute_s, 3), "output": self.output,
        }


@dataclass(frozen=True)
class BatchReport:
    """What a batch did: one row per input (input order), wall seconds, workers used."""

    rows: tuple[BatchRow, ...]
    wall_s: float
    workers: int
    canceled: bool = False

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)


class WarmUp(WorkerPlugin):
    """Loads the identification models in each worker process when it joins."""

    name = "vpstudio-warm-up"

    async def setup(self, worker: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, warm_up_worker)


def default_workers() -> int:
    """Worker processes for a LocalCluster: one per CPU, at most one per 2 GiB of RAM
    (a 24 h file needs up to 1.5 GB in a worker)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        mem = 0
    by_mem = mem // (2 * GiB) if mem > 0 else cpus
    return max(1, min(cpus, int(by_mem)))


@contextmanager
def dask_client(*, workers: int | None = None, scheduler: str | None = None,
                cancel: CancelToken | None = None) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler``, or of a new LocalCluster of
    ``workers`` single-threaded processes on 127.0.0.1 (closed on exit).

    Raises:
        VPError: ``batch.scheduler-unreachable`` / ``batch.no-workers``.
    """
    import dask

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise VPError(f"Cannot reach the Dask scheduler at {scheduler}: {exc}",
                          type="batch.scheduler-unreachable", location="--scheduler") from exc
        try:
            _wait_for_workers(client, cancel)
            yield client
        finally:
            with suppress(Exception):
                client.close()
        return
    n = workers or default_workers()
    # a file that kills its worker is not handed to the next one again and again
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.admin.tick.limit": "60s"}):
        # Ctrl+C reaches the whole process group: the worker processes, started while
        # SIGINT is ignored, keep ignoring it, and this process shuts them down itself.
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, worker_dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        try:
            client = Client(cluster, set_as_default=False)
            try:
                yield client
            finally:
                with suppress(Exception):
                    client.close()
        finally:
            with suppress(Exception):
                cluster.close()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _wait_for_workers(client: Client, cancel: CancelToken | None) -> None:
    deadline = time.monotonic() + WORKER_WAIT_S
    while not client.scheduler_info(n_workers=-1).get("workers"):
        if cancel is not None:
            cancel.check()
        if time.monotonic() > deadline:
            raise VPError(f"No Dask worker joined the scheduler in {WORKER_WAIT_S:.0f} s: start "
                          "workers with 'dask worker ADDRESS --nthreads 1'.",
                          type="batch.no-workers", location="--scheduler")
        time.sleep(0.2)


def _threads(client: Client) -> int:
    return max(1, sum(int(n) for n in client.nthreads().values()))


def run_batch(
    items: Sequence[BatchItem],
    out_dir: str | os.PathLike[str],
    library: LibrarySnapshot,
    settings: BatchSettings,
    *,
    key: str,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    on_row: Callable[[BatchRow], None] | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> BatchReport:
    """Identify every item on Dask; write outputs, manifest and ``summary.csv``.

    Args:
        items: the inputs (:func:`engine.batch.inputs.collect_inputs`).
        out_dir: the output folder (created, 0700, when missing).
        library: the voiceprints and names sent to every worker.
        settings: the identification options.
        key: the manifest key of this run (:func:`engine.batch.manifest.run_key`).
        workers: LocalCluster size (default :func:`default_workers`); ignored with
            ``scheduler``.
        scheduler: address of a running Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
        force: redo files the manifest says are done.
        on_row: called with each row as soon as it is known (skipped rows first).
        progress: ``(fraction of the audio done, message)``: files done, audio hours
            done and the time left.
        cancel: stops the batch between files (Ctrl+C does the same); the files
            finished are kept and the summary is written, then :class:`Cancelled` raised.

    Raises:
        Cancelled: after a cancel or Ctrl+C, once the cluster is shut down.
        VPError: the output folder cannot be written, the cluster cannot start.
    """
    start = time.monotonic()
    out = Path(out_dir)
    try:
        private_dir(out)
    except OSError as exc:
        raise os_error(exc, out, writing=True, what="output folder") from exc
    manifest = Manifest(out)
    rows: dict[str, BatchRow] = {}
    todo: list[BatchItem] = []
    for item in items:
        entry = None if force else manifest.finished(item.path, out / item.output, key)
        if entry is None:
            todo.append(item)
            continue
        dur = entry.get("duration")
        row = BatchRow(path=item.path, status="skipped",
                       duration_s=float(dur) if isinstance(dur, int | float) else None,
                       speakers=tuple(str(s) for s in entry.get("speakers") or ()),
                       output=item.output)
        rows[item.path] = row
        if on_row is not None:
            on_row(row)
    meter = _Meter(todo, len(items) - len(todo))
    canceled = False
    used = 0
    token = cancel if cancel is not None else CancelToken()
    try:
        with _stop_on_signals(token):
            if todo:
                used = _run(todo, out, library, settings, key, manifest, rows, meter,
                            workers=workers, scheduler=scheduler, on_row=on_row,
                            progress=progress, cancel=token)
    except (KeyboardInterrupt, Cancelled):
        canceled = True
    finally:
        ordered = tuple(rows.get(it.path) or BatchRow(
            path=it.path, status="canceled", duration_s=meter.expected.get(it.path) or None)
            for it in items)
        report = BatchReport(rows=ordered, wall_s=time.monotonic() - start, workers=used,
                             canceled=canceled)
        write_summary(out / SUMMARY_NAME, report.rows)
    if canceled:
        raise Cancelled()
    progress(1.0, meter.message())
    return report


@contextmanager
def _stop_on_signals(token: CancelToken) -> Iterator[None]:
    """In the main thread: the first SIGINT (Ctrl+C) or SIGTERM sets ``token`` (the batch
    stops after the file results being written, not in the middle of one), a second one
    raises KeyboardInterrupt at once. Elsewhere: nothing."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def _run(todo: list[BatchItem], out: Path, library: LibrarySnapshot, settings: BatchSettings,
         key: str, manifest: Manifest, rows: dict[str, BatchRow], meter: _Meter, *,
         workers: int | None, scheduler: str | None,
         on_row: Callable[[BatchRow], None] | None, progress: ProgressFn,
         cancel: CancelToken | None) -> int:
    """Submit and collect; returns the number of worker threads used."""
    progress(0.0, f"Starting Dask {'workers' if not scheduler else 'client'}…")
    with dask_client(workers=workers, scheduler=scheduler, cancel=cancel) as client:
        try:
            client.register_plugin(WarmUp(), name=WarmUp.name)
        except Exception as exc:  # e.g. a worker without the app: cannot unpickle WarmUp
            raise VPError(
                f"A Dask worker could not set up Voiceprint Studio ({type(exc).__name__}: "
                f"{exc}): every worker needs the same version of the app installed.",
                type="batch.worker-setup", location=scheduler or "--workers") from exc
        if cancel is not None:
            cancel.check()
        [shared] = client.scatter([library], broadcast=True, hash=False)
        pending = iter(todo)
        inflight: dict[str, tuple[Any, BatchItem]] = {}
        ac = as_completed(loop=client.loop)

        def submit(limit: int) -> None:
            while len(inflight) < limit:
                item = next(pending, None)
                if item is None:
                    return
                fut = client.submit(identify_file, FileTask(item.path, settings), shared,
                                    pure=False, key=f"vpstudio-batch-{meter.submitted}-"
                                    f"{os.getpid()}-{time.monotonic_ns()}")
                meter.submitted += 1
                inflight[str(fut.key)] = (fut, item)
                ac.add(fut)

        try:
            threads = _threads(client)
            submit(threads)
            progress(meter.fraction(), meter.message())
            last = 0.0
            while inflight:
                if cancel is not None:
                    cancel.check()
                done = ac.next_batch(block=False)
                if not done:
                    time.sleep(0.05)
                    if time.monotonic() - last > 1.0:
                        last = time.monotonic()
                        progress(meter.fraction(), meter.message())
                    continue
                for fut in done:
                    _, item = inflight.pop(str(fut.key))
                    row = _collect(fut, item, out, key, manifest)
                    rows[item.path] = row
                    meter.done(row)
                    if on_row is not None:
                        on_row(row)
                threads = _threads(client)
                submit(threads)
                progress(meter.fraction(), meter.message())
            return threads
        finally:
            if inflight:  # canceled: drop what was not done
                with suppress(Exception):
                    client.cancel([f for f, _ in inflight.values()], force=True)


def _collect(fut: Any, item: BatchItem, out: Path, key: str, manifest: Manifest) -> BatchRow:
    """The row of one finished future; an ok result is written and recorded first."""
    try:
        outcome: FileOutcome = fut.result()
    except Exception as exc:  # the worker died on it, or it was lost with its worker
        return BatchRow(path=item.path, status="failed", error_type="batch.worker-lost",
                        error_message=f"The worker identifying this file stopped: "
                        f"{type(exc).__name__}: {exc}")
    if outcome.status != "ok":
        return BatchRow(path=item.path, status="failed", error_type=outcome.error_type,
                        error_message=outcome.error_message, duration_s=outcome.duration,
                        compute_s=outcome.compute_s)
    target = out / item.output
    try:
        from engine.files import write_private_atomic

        try:
            private_dir(target.parent)
        except OSError as exc:
            raise os_error(exc, target, writing=True, what="output file") from exc
        write_private_atomic(target, outcome.text.encode("utf-8"), what="output file")
        manifest.record(item.path, item.output, key, duration=outcome.duration,
                        speakers=outcome.speakers)
    except VPError as exc:
        return BatchRow(path=item.path, status="failed", error_type=exc.type,
                        error_message=exc.message, duration_s=outcome.duration,
                        compute_s=outcome.compute_s)
    return BatchRow(path=item.path, status="ok", duration_s=outcome.duration,
                    speakers=outcome.speakers, compute_s=outcome.compute_s, output=item.output)


class _Meter:
    """Files and audio hours done, and the time left (from this run's audio rate)."""

    def __init__(self, todo: Sequence[BatchItem], skipped: int) -> None:
        self.start = time.monotonic()
        self.total_files = len(todo) + skipped
        self.files_done = skipped
        self.failed = 0
        self.submitted = 0
        self.expected: dict[str, float] = {}
        for item in todo:
            self.expected[item.path] = _probe_duration(item.path)
        self.total_s = sum(self.expected.values())
        self.done_s = 0.0

    def done(self, row: BatchRow) -> None:
        self.files_done += 1
        self.failed += row.status == "failed"
        self.done_s += self.expected.get(row.path, 0.0)

    def fraction(self) -> float:
        if self.total_s > 0:
            return min(1.0, self.done_s / self.total_s)
        return self.files_done / max(1, self.total_files)

    def message(self) -> str:
        elapsed = time.monotonic() - self.start
        frac = self.fraction()
        eta = "--:--" if frac <= 0 or frac >= 1 else _clock(elapsed * (1 - frac) / frac)
        failed = f" ({self.failed} failed)" if self.failed else ""
        return (f"{self.files_done}/{self.total_files} files{failed}, "
                f"{self.done_s / 3600:.2f}/{self.total_s / 3600:.2f} h audio, ETA {eta}")


def _probe_duration(path: str) -> float:
    try:
        from engine.audio import probe

        d = float(probe(path).duration)
    except Exception:  # unreadable: it will fail on its worker, with its typed error
        return 0.0
    return d if math.isfinite(d) and d > 0 else 0.0


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def summary_csv(rows: Sequence[BatchRow]) -> str:
    """The text of ``summary.csv``: a header, then one row per input."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SUMMARY_FIELDS)
    for r in rows:
        w.writerow([
            r.path, r.status, r.error_type, r.error_message,
            "" if r.duration_s is None else f"{r.duration_s:.3f}",
            len(r.speakers) if r.status in ("ok", "skipped") else "",
            ";".join(r.speakers), f"{r.compute_s:.3f}", r.output,
        ])
    return buf.getvalue()


def write_summary(path: Path, rows: Sequence[BatchRow]) -> None:
    """Write ``summary.csv`` atomically (0600)."""
    from engine.files import write_private_atomic

    write_private_atomic(path, summary_csv(rows).encode("utf-8"), what="batch summary")
