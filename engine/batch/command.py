"""``vpstudio batch``: the subcommand's parser and its function.

Kept out of :mod:`engine.cli` (which only calls :func:`add_parser`); nothing heavy is
imported until the command runs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXAMPLE = """\
vpstudio batch archive/ --out results/
vpstudio batch calls.txt --out out/ --speakers 2 --format rttm --workers 4
vpstudio batch /mnt/archive --out /mnt/results --scheduler tcp://10.0.0.5:8786"""


def add_parser(command: Callable[..., argparse.ArgumentParser],
               identify_options: Callable[[argparse.ArgumentParser, str], None],
               positive_int: Callable[[str], int]) -> argparse.ArgumentParser:
    """Add ``batch`` with ``command(name, help, description, example)`` (engine.cli's)."""
    p = command(
        "batch", "identify many recordings at once, on this machine or a Dask cluster",
        """
        Identify every INPUT (audio files, folders searched recursively for audio, or a
        text file listing one path per line) as "vpstudio identify" does, and write one
        output per file under DIR (a folder's layout is kept), each as soon as it is done.
        Runs on Dask: a local cluster of --workers processes (default: one per CPU), each
        loading the models once, or an existing cluster with --scheduler (every worker
        needs Voiceprint Studio installed and the input paths readable). The library is
        read once here and sent to the workers. A re-run skips files already done with the
        same settings and library (DIR/manifest.jsonl); --force redoes them. One bad file
        never stops the batch: DIR/summary.csv (with --json, also one JSON line per file on
        stdout) gives each file's status (ok, failed, skipped), error type and message,
        duration, speakers and compute seconds. Ctrl+C stops cleanly: finished files are
        kept. Exit code 1 when a file failed.
        """,
        EXAMPLE,
    )
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help="audio file, folder, or list of paths (.txt/.lst/.list)")
    p.add_argument("--out", metavar="DIR", required=True, type=Path,
                   help="output folder (created if missing)")
    identify_options(p, "output format of each file (default json)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="worker processes of the local cluster (default: one per CPU, at "
                   "most one per 2 GiB of memory)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="submit to the Dask scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786) "
                   "instead of starting a local cluster")
    p.add_argument("--force", action="store_true",
                   help="redo files that an earlier run already finished")
    p.set_defaults(func=cmd_batch)
    return p


def cmd_batch(args: argparse.Namespace, out: Any) -> int:
    """Run ``vpstudio batch`` (``out``: :class:`engine.cli.Output`); the exit code."""
    from engine import cli
    from engine.batch.inputs import collect_inputs
    from engine.batch.manifest import BatchSettings, library_digest, run_key
    from engine.batch.work import LibrarySnapshot
    from engine.errors import Cancelled

    split = args.channel_mode == "split"
    channels = cli._parse_channels(args.channels)
    if channels is not None and not split:
        raise cli.UsageError("--channels picks the channels of --channel-mode split.",
                             location="--channels")
    if args.scheduler and args.workers:
        raise cli.UsageError("--workers sizes a local cluster; with --scheduler the cluster's "
                             "own workers are used.", location="--workers")
    settings = BatchSettings(
        fmt=args.format or "json", num_speakers=args.num_speakers,
        min_speakers=args.min_speakers, max_speakers=args.max_speakers,
        threshold=args.threshold, channel_mode=args.channel_mode,
        channels=tuple(channels) if channels is not None else None,
    )
    items = collect_inputs(args.inputs, settings.fmt)

    library = cli._open_library()  # read once, here: the workers get the voiceprints
    model_id = cli._current_model_id()
    voiceprints = library.voiceprints(model_id)
    names = library.names(voiceprints)
    others = sum(n for m, n in library.model_ids().items() if m != model_id)
    library.close()
    if others:
        out.note(f"{others} speaker(s) enrolled with another speaker model are left out: "
                 "re-enroll them with this version to identify them.")
    if not voiceprints:
        out.note("The library has no enrolled speakers: every speaker will be UNKNOWN.")
    snapshot = LibrarySnapshot(voiceprints=voiceprints, names=names)
    key = run_key(settings, library_digest(voiceprints, names), model_id)

    def on_row(row: Any) -> None:
        if out.json:
            out.end_progress()
            out.stdout.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
            out.stdout.flush()
        elif row.status == "failed":
            out.note(f"failed: {row.path}: [{row.error_type}] {row.error_message}")

    from engine.batch.runner import SUMMARY_NAME, run_batch

    try:  # Ctrl+C / SIGTERM: run_batch stops cleanly and raises Cancelled
        report = run_batch(items, args.out, snapshot, settings, key=key,
                           workers=args.workers, scheduler=args.scheduler, force=args.force,
                           on_row=on_row, progress=out.progress)
    except Cancelled:
        out.note(f"Stopped: the files finished are kept (summary: {args.out / SUMMARY_NAME}); "
                 "run the same command again to go on.")
        raise
    out.end_progress()
    text = (
        f"{len(report.rows)} file(s): {report.count('ok')} ok, {report.count('failed')} "
        f"failed, {report.count('skipped')} skipped, in {report.wall_s:.1f} s on "
        f"{report.workers or 'no'} worker thread(s). Summary: {args.out / SUMMARY_NAME}")
    if out.json:
        out.note(text)
    else:
        out.emit({}, text)
    return cli.EXIT_OTHER if report.count("failed") else cli.EXIT_OK
