"""``vpstudio``: the Voiceprint Studio command line.

Everything the desktop app does with the voiceprint library, scriptable:
enroll speakers, list/rename/delete/merge them, export/import the library,
identify who speaks when in a recording, compare voiceprints.

Exit codes: 0 ok, 1 other error, 2 invalid input or usage, 3 unreadable media
or no speech, 4 not found or conflict, 130 canceled (Ctrl-C). With ``--json``
results go to stdout as JSON and an error is printed there as
``{"error": {"type", "message", ...}}``.

The model modules (torch, onnxruntime) are imported inside the commands that
need them, so ``vpstudio --help`` and ``vpstudio speakers`` start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from engine import __version__
from engine.errors import Cancelled, VPError
from engine.jobs import CancelToken

if TYPE_CHECKING:
    from engine.library import Library
    from engine.voiceprint import Voiceprint

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_MEDIA = 3
EXIT_NOT_FOUND = 4
EXIT_CANCELED = 130


class UsageError(VPError):
    """Bad command line (``request.validation-error``, detail ``cli.usage``)."""

    type = "request.validation-error"


def exit_code(error: BaseException) -> int:
    """The process exit code for an error (see the module docstring)."""
    if isinstance(error, Cancelled | KeyboardInterrupt):
        return EXIT_CANCELED
    if not isinstance(error, VPError):
        return EXIT_OTHER
    kind = error.type
    if kind.startswith("media.") or (error.detail or "").startswith("media."):
        return EXIT_MEDIA
    if kind in ("resource.not-found", "resource.conflict"):
        return EXIT_NOT_FOUND
    if kind in (
        "request.validation-error",
        "request.size-limit-exceeded",
        "voiceprint.invalid",
        "voiceprint.model-mismatch",
    ):
        return EXIT_USAGE
    return EXIT_OTHER


# -- output ---------------------------------------------------------------------------------
class Output:
    """Where a command writes: human text or one JSON document on stdout, notes on stderr."""

    def __init__(self, json_mode: bool, progress: bool | None) -> None:
        self.json = json_mode
        self.stdout: IO[str] = sys.stdout
        self.stderr: IO[str] = sys.stderr
        self.show_progress = progress if progress else _isatty(self.stderr)
        self._progress_open = False

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        """Print ``data`` as JSON in ``--json`` mode, else the human ``text``."""
        self.end_progress()
        if self.json:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_jsonable))
            self.stdout.write("\n")
        else:
            body = text() if callable(text) else text
            if body:
                self.stdout.write(body.rstrip("\n") + "\n")
        self.stdout.flush()

    def note(self, message: str) -> None:
        """A line for a person on stderr (never mixed into JSON on stdout)."""
        self.end_progress()
        self.stderr.write(message.rstrip("\n") + "\n")
        self.stderr.flush()

    def progress(self, fraction: float, message: str = "") -> None:
        """A ``\\r``-updated percentage line on stderr (only on a TTY or with --progress)."""
        if not self.show_progress:
            return
        pct = 100.0 * min(1.0, max(0.0, float(fraction)))
        self.stderr.write(f"\r{message or 'Working'}: {pct:5.1f}%\x1b[K")
        self.stderr.flush()
        self._progress_open = True

    def end_progress(self) -> None:
        if self._progress_open:
            self.stderr.write("\n")
            self.stderr.flush()
            self._progress_open = False

    def error(self, error: BaseException) -> None:
        self.end_progress()
        if isinstance(error, VPError):
            payload = error.to_dict()
        elif isinstance(error, Cancelled | KeyboardInterrupt):
            payload = {"type": "job.canceled", "message": "Canceled."}
        else:
            payload = {"type": "internal.error", "message": f"Unexpected error: {error}"}
        if self.json:
            self.stdout.write(json.dumps({"error": payload}, ensure_ascii=False, default=_jsonable))
            self.stdout.write("\n")
            self.stdout.flush()
        else:
            where = f" ({payload['location']})" if payload.get("location") else ""
            self.stderr.write(f"vpstudio: error [{payload['type']}]: {payload['message']}{where}\n")
            self.stderr.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _speaker_dict(info: Any) -> dict[str, Any]:
    return dataclasses.asdict(info)


# -- lazily imported engine pieces -------------------------------------------------------------
_OPENED: list[Library] = []


def _open_library(expected_model_id: str | None = None) -> Library:
    from engine.library import Library

    library = Library(expected_model_id=expected_model_id)
    _OPENED.append(library)  # closed when main() returns
    return library


def _current_model_id() -> str | None:
    """The model id of the default speaker encoder, without loading its weights."""
    from engine.encoder import ECAPA_MODEL_ID  # the module imports torch only when loading

    return ECAPA_MODEL_ID


def _extract_fn() -> Callable[..., Any]:
    from engine.enroll import extract_voiceprint  # imports torch: only when needed

    return extract_voiceprint


def _extract_per_channel_fn() -> Callable[..., Any]:
    from engine.enroll import extract_per_channel

    return extract_per_channel


def _check_media(path: str) -> None:
    """Fail at once, before any model loads, on a missing, unreadable or odd input file."""
    from engine.audio import check_readable

    check_readable(path)


def _load(path: str, *, channel_mode: str = "mix", channels: Sequence[int] | None = None) -> Any:
    from engine.audio import VOICEPRINT_LIMITS, load_audio

    _check_media(path)
    kwargs: dict[str, Any] = {"limits": VOICEPRINT_LIMITS}
    if channel_mode != "mix" or channels is not None:
        kwargs["channel_mode"] = channel_mode
        kwargs["channels"] = channels
    return load_audio(path, **kwargs)


def _quality_dict(quality: Any) -> dict[str, Any]:
    if quality is None:
        return {}
    if hasattr(quality, "to_dict"):
        return dict(quality.to_dict())
    if dataclasses.is_dataclass(quality) and not isinstance(quality, type):
        return dataclasses.asdict(quality)
    return {"verdict": str(quality)}


def _quality_ok(quality: Any) -> bool:
    """False when the report says the recording is too short / unusable for enrollment."""
    if quality is None:
        return True
    ok = getattr(quality, "usable", getattr(quality, "ok", None))
    if isinstance(ok, bool):
        return ok
    verdict = str(getattr(quality, "verdict", "")).lower().replace("_", "-")
    return verdict not in ("too-short", "reject", "rejected", "insufficient", "bad", "unusable")


def _quality_line(quality: Any) -> str:
    q = _quality_dict(quality)
    parts = []
    if "net_speech_s" in q:
        parts.append(f"{float(q['net_speech_s']):.1f} s of speech")
    if q.get("snr_db") is not None:
        parts.append(f"SNR {float(q['snr_db']):.0f} dB")
    # a person reads the sentence; the code stays in --json output
    if q.get("verdict_text") or q.get("verdict"):
        parts.append(str(q.get("verdict_text") or q["verdict"]))
    for key in ("messages", "warnings", "advice"):
        if q.get(key):
            items = q[key] if isinstance(q[key], list | tuple) else [q[key]]
            parts.append("; ".join(str(m) for m in items))
    return ", ".join(parts) if parts else "ok"


def _net_seconds(result: Any) -> float:
    quality = getattr(result, "quality", None)
    for key in ("net_speech_s", "net_speech_seconds", "speech_seconds"):
        value = getattr(quality, key, None)
        if isinstance(value, int | float):
            return float(value)
    return 0.0


# -- commands ---------------------------------------------------------------------------------
def cmd_enroll(args: argparse.Namespace, out: Output) -> int:
    from engine.errors import NoSpeech

    for path in args.files:  # before loading any model: a typo fails at once
        _check_media(path)
    from engine.calibration import DEFAULT_THRESHOLD
    from engine.voice_match import speaker_match, voice_match
    from engine.voiceprint import mean_voiceprint

    library = _open_library()
    extract = _extract_fn()
    items: list[tuple[Voiceprint, float, str]] = []
    reports: list[dict[str, Any]] = []
    refused: list[str] = []
    mismatched: list[dict[str, Any]] = []
    qualities: list[Any] = []
    clips: list[Any] = []  # kept privately so the enrollment can be played back
    n = len(args.files)
    for k, path in enumerate(args.files):

        def step(fraction: float, message: str = "", k: int = k, name: str = Path(path).name
                 ) -> None:
            out.progress((k + fraction) / n, f"Extracting {name}")

        step(0.0)
        audio = _load(path)
        result = extract(audio, progress=step)
        quality = getattr(result, "quality", None)
        ok = _quality_ok(quality)
        reports.append({"file": path, "quality": _quality_dict(quality), "accepted": ok or args.force})
        if not out.json:
            flag = "" if ok else ("  [too short: kept, --force]" if args.force else "  [REFUSED]")
            out.note(f"{Path(path).name}: {_quality_line(quality)}{flag}")
        if not ok and not args.force:
            refused.append(path)
            continue
        # Before anything is written: does it sound like the speaker (or, for a new one,
        # like the recordings before it on this command line)?
        match = speaker_match(library, args.name, result.voiceprint)
        if match is None and items:
            match = voice_match(mean_voiceprint([it[0] for it in items]), result.voiceprint,
                                speaker=args.name)
        if match is not None:
            reports[-1]["match"] = {"score": round(match.score, 1),
                                    "threshold": match.threshold, "matches": match.matches}
            if not match.matches:
                if not out.json:
                    out.note(f"{Path(path).name}: {match.message()}"
                             + ("  [kept, --force]" if args.force else "  [REFUSED]"))
                if not args.force:
                    mismatched.append({"file": path, "score": round(match.score, 1)})
                    continue
        items.append((result.voiceprint, _net_seconds(result), Path(path).name))
        qualities.append(quality)
        clips.append(audio.mono())
    if mismatched:
        from engine.errors import VoiceMismatch

        files = ", ".join(f"{Path(m['file']).name} (score {m['score']:.0f})" for m in mismatched)
        raise VoiceMismatch(
            f"Not enrolled: {files} does not sound like {args.name!r} (threshold "
            f"{DEFAULT_THRESHOLD:.0f} of 100). Enroll another person under a new name, or pass --force to add it anyway.",
            location=mismatched[0]["file"],
            detail="voiceprint.speaker-mismatch",
            context={"speaker": args.name, "files": mismatched, "quality": reports},
        )
    if refused:
        raise NoSpeech(
            f"Not enough clean speech in {', '.join(Path(p).name for p in refused)} to enroll "
            "reliably: record at least the recommended length, or pass --force to enroll anyway.",
            location=refused[0],
            detail="media.too-short",
            context={"files": refused, "quality": reports},
        )
    info = library.enroll_many(args.name, items, qualities=qualities, clips=clips)
    out.emit(
        {"speaker": _speaker_dict(info), "enrollments": reports},
        f"Enrolled {len(items)} recording(s) for {info.name!r} (id {info.id}): "
        f"{info.num_enrollments} enrollment(s), {info.seconds:.1f} s of speech.",
    )
    return EXIT_OK


def cmd_speakers(args: argparse.Namespace, out: Output) -> int:
    library = _open_library()
    speakers = library.search(args.search) if args.search else library.list_speakers()

    def text() -> str:
        if not speakers:
            return "No speakers." if args.search else "The library is empty: enroll someone."
        # the (long) model id only matters when the library mixes models
        several = len({s.model_id for s in speakers if s.model_id}) > 1
        headers = ["id", "name", "enrollments", "speech s", "colour"] + (["model"] * several)
        return _table(
            headers,
            [
                (s.id, s.name, s.num_enrollments, f"{s.seconds:.1f}", s.colour)
                + ((s.model_id or "-",) if several else ())
                for s in speakers
            ],
        )

    out.emit({"speakers": [_speaker_dict(s) for s in speakers]}, text)
    return EXIT_OK


def cmd_rename(args: argparse.Namespace, out: Output) -> int:
    library = _open_library()
    info = library.rename(library.get_by_name(args.old).id, args.new)
    out.emit({"speaker": _speaker_dict(info)}, f"Renamed {args.old!r} to {info.name!r}.")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace, out: Output) -> int:
    library = _open_library()
    info = library.get_by_name(args.name)
    if not args.yes:
        if not _isatty(sys.stdin) or out.json:
            raise UsageError(
                f"Deleting {info.name!r} removes {info.num_enrollments} enrollment(s) for good: "
                "pass --yes to confirm.",
                location="--yes",
                detail="cli.confirmation-required",
            )
        answer = input(f"Delete {info.name!r} and its {info.num_enrollments} enrollment(s)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            out.note("Nothing deleted.")
            return EXIT_CANCELED
    deleted = library.delete_speaker(info.id)
    out.emit({"deleted": _speaker_dict(deleted)}, f"Deleted {deleted.name!r}.")
    return EXIT_OK


def cmd_merge(args: argparse.Namespace, out: Output) -> int:
    library = _open_library()
    into = library.get_by_name(args.into)
    src = library.get_by_name(args.source)
    info = library.merge(into.id, src.id)
    out.emit(
        {"speaker": _speaker_dict(info), "merged": _speaker_dict(src)},
        f"Merged {src.name!r} into {info.name!r}: {info.num_enrollments} enrollment(s).",
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace, out: Output) -> int:
    from engine.files import check_output_path

    check_output_path(args.file, "export file")  # a folder or a typo in it: before any work
    library = _open_library()
    ids = [library.get_by_name(n).id for n in args.names] if args.names else None
    count = library.export_json(args.file, ids)
    out.emit(
        {"file": str(args.file), "speakers": count},
        f"Exported {count} speaker(s) to {args.file} (biometric data: keep it private).",
    )
    return EXIT_OK


def cmd_import(args: argparse.Namespace, out: Output) -> int:
    library = _open_library()
    report = library.import_json(
        args.file,
        args.on_conflict,
        expected_model_id=_current_model_id(),
        progress=out.progress,
    )

    def text() -> str:
        lines = [f"Imported {report.enrollments} enrollment(s)."]
        if report.added:
            lines.append(f"Added: {', '.join(report.added)}")
        if report.merged:
            lines.append(f"Merged into existing: {', '.join(report.merged)}")
        if report.renamed:
            lines.append("Renamed: " + ", ".join(f"{a} -> {b}" for a, b in report.renamed))
        if report.skipped:
            lines.append(f"Skipped (already there): {', '.join(report.skipped)}")
        return "\n".join(lines)

    out.emit(report.to_dict(), text)
    return EXIT_OK


def cmd_identify(args: argparse.Namespace, out: Output) -> int:
    _check_media(args.file)  # before loading any model: a typo fails at once
    from engine import formats

    split = args.channel_mode == "split"
    channels = _parse_channels(args.channels)
    if channels is not None and not split:
        raise UsageError(
            "--channels picks the channels of --channel-mode split (to identify one channel "
            "alone, use --channel-mode split --channels N).",
            location="--channels",
        )
    library = _open_library()
    model_id = _current_model_id()
    voiceprints = library.voiceprints(model_id)
    names = library.names(voiceprints)
    others = sum(n for m, n in library.model_ids().items() if m != model_id)
    if others:
        out.note(
            f"{others} speaker(s) enrolled with another speaker model are left out: "
            "re-enroll them with this version to identify them."
        )
    if not voiceprints:
        out.note("The library has no enrolled speakers: every speaker will be UNKNOWN.")
    kwargs: dict[str, Any] = {}
    for key in ("num_speakers", "min_speakers", "max_speakers", "threshold"):
        value = getattr(args, key)
        if value is not None:
            kwargs[key] = value
    fmt = args.format
    if fmt is None:
        fmt = formats.format_for(args.output) if args.output else "json"
    cancel = CancelToken()
    if split:
        from engine.identify_channels import identify_channels

        result = identify_channels(
            args.file, voiceprints, channels=channels, progress=out.progress, cancel=cancel,
            confidence=(fmt == "json"), **kwargs
        )
    else:
        from engine.identify import identify

        result = identify(
            args.file, voiceprints, progress=out.progress, cancel=cancel,
            confidence=(fmt == "json"), **kwargs
        )
    out.end_progress()
    result = _rename_result(result, names)
    uri = Path(args.file).stem
    if args.output:
        written = formats.write(result, args.output, fmt, uri=uri)
        summary: dict[str, Any] = {
            "output": str(written), "format": fmt, "speakers": list(result.speakers())
        }
        text = f"Wrote {fmt} to {written}; speakers: {', '.join(result.speakers()) or 'none'}."
        if split:
            per = _speakers_per_channel(result)
            summary["channels"] = {str(c): labels for c, labels in per.items()}
            text += "".join(
                f"\n  channel {c}: {', '.join(labels) or 'no speech'}" for c, labels in per.items()
            )
        out.emit(summary, text)
    elif fmt == "json":
        out.emit(formats.to_json_dict(result), lambda: formats.to_json(result, indent=1))
    else:
        out.emit({"format": fmt, "content": formats.dumps(result, fmt, uri=uri)},
                 lambda: formats.dumps(result, fmt, uri=uri))
    return EXIT_OK


def _speakers_per_channel(result: Any) -> dict[int, list[str]]:
    """Channel -> its speaker labels in order of first appearance (channels with turns)."""
    per: dict[int, list[str]] = {}
    for t in result.turns:
        if t.channel is not None:
            labels = per.setdefault(int(t.channel), [])
            if t.speaker not in labels:
                labels.append(t.speaker)
    return dict(sorted(per.items()))


def _rename_result(result: Any, names: dict[str, str]) -> Any:
    """Replace speaker ids by names in every labelled field of an identification result."""
    if not names:
        return result

    def relabel(value: Any) -> Any:
        if isinstance(value, str):
            return names.get(value, value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                if not f.init:
                    continue
                old = getattr(value, f.name)
                new = relabel(old)
                if new is not old:
                    changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        if isinstance(value, tuple):
            items = [relabel(v) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else tuple(items)
        if isinstance(value, list):
            return [relabel(v) for v in value]
        if isinstance(value, dict):
            return {relabel(k) if isinstance(k, str) else k: relabel(v) for k, v in value.items()}
        return value

    return relabel(result)


def _voiceprint_operand(operand: str, library_box: list[Library]) -> list[tuple[str, Voiceprint]]:
    """A compare operand: comma-separated items, each a .vp file, a library export
    (.json, all its speakers) or the name of an enrolled speaker."""
    from engine.compare import MAX_LIST

    if operand.startswith("@") and _is_file(operand[1:]):
        # one item per line: a shell passes at most 128 KiB in one argument, too little
        # for the 50,000 names a list may hold
        text = _read_bytes(Path(operand[1:])).decode("utf-8", errors="replace")
        items = [line.strip() for line in text.splitlines()]
    elif _is_file(operand):
        items = [operand]
    else:
        items = [p.strip() for p in operand.split(",")]
    items = [p for p in items if p]
    if not items:
        raise UsageError(f"{operand!r} names no voiceprint file or speaker.", location="A/B")
    if len(items) > MAX_LIST:
        from engine.errors import SizeLimitExceeded

        raise SizeLimitExceeded(
            f"{len(items)} voiceprints or names in one list; at most {MAX_LIST} are allowed.",
            location="A/B",
            context={"length": len(items), "max_length": MAX_LIST},
        )
    out: list[tuple[str, Voiceprint]] = []
    for item in items:
        path = Path(item)
        if _is_file(item):
            if path.suffix.lower() == ".json":
                from engine.library import read_export

                out += read_export(path)
                continue
            from engine.voiceprint import Voiceprint

            try:
                vp = Voiceprint.from_bytes(_read_bytes(path))
            except VPError as exc:
                exc.location = str(path)
                raise
            out.append((path.stem, vp))
            continue
        if path.suffix.lower() in (".vp", ".json") or os.sep in item or "/" in item:
            from engine.errors import NotFound

            raise NotFound(f"There is no voiceprint file {item}.", location=item)
        if not library_box:
            library_box.append(_open_library())
        library = library_box[0]
        info = library.get_by_name(item)
        out.append((info.name, library.voiceprint(info.id)))
    return out


def _is_file(text: str) -> bool:
    """Whether ``text`` names an existing regular file; False for a name the file system
    could never hold (a component over 255 bytes, a NUL byte), e.g. a long list of names."""
    return os.path.isfile(text)  # catches OSError (ENAMETOOLONG ...) and ValueError


def _read_bytes(path: Path) -> bytes:
    from engine.files import os_error

    try:
        return path.read_bytes()
    except OSError as exc:
        raise os_error(exc, path, writing=False, what="voiceprint file") from exc


def cmd_compare(args: argparse.Namespace, out: Output) -> int:
    from engine.compare import compare

    box: list[Library] = []
    a = _voiceprint_operand(args.a, box)
    b = _voiceprint_operand(args.b, box)
    if not a or not b:
        raise UsageError("Nothing to compare: an operand holds no voiceprints.")
    result = compare([vp for _, vp in a], [vp for _, vp in b])
    cos = [[float(x) for x in row] for row in result.cosine]
    score = [[float(x) for x in row] for row in result.score]
    data = {
        "a": [n for n, _ in a],
        "b": [n for n, _ in b],
        "model_id": getattr(result, "model_id", a[0][1].model_id),
        "score": score,
        "cosine": cos,
    }

    def text() -> str:
        rows = [[na] + [f"{score[i][j]:.1f}" for j in range(len(b))] for i, (na, _) in enumerate(a)]
        return "Scores (0-100, higher = more likely the same speaker):\n" + _table(
            ["A \\ B"] + [n for n, _ in b], rows
        )

    out.emit(data, text)
    return EXIT_OK


def cmd_voiceprint(args: argparse.Namespace, out: Output) -> int:
    from engine.files import check_output_path

    channels = _parse_channels(args.channels)
    check_output_path(Path(args.output), "voiceprint file")
    audio = _load(args.file, channel_mode=args.channel_mode, channels=channels)
    outputs: list[dict[str, Any]] = []
    target = Path(args.output)
    if args.channel_mode == "split":
        results = list(_extract_per_channel_fn()(audio, progress=out.progress))
        picked = channels if channels is not None else list(range(len(results)))
        for ch, result in zip(picked, results, strict=False):
            path = target.with_name(f"{target.stem}.ch{ch}{target.suffix or '.vp'}")
            _write_blob(path, result.voiceprint.to_bytes())
            outputs.append({"channel": ch, "file": str(path),
                            "quality": _quality_dict(getattr(result, "quality", None))})
    else:
        result = _extract_fn()(audio, progress=out.progress)
        _write_blob(target, result.voiceprint.to_bytes())
        outputs.append({"file": str(target),
                        "quality": _quality_dict(getattr(result, "quality", None))})
    out.emit(
        {"outputs": outputs},
        lambda: "\n".join(
            f"Wrote {o['file']}"
            + (f" (channel {o['channel']})" if "channel" in o else "")
            + f": {_quality_line_from_dict(o['quality'])}"
            for o in outputs
        ),
    )
    return EXIT_OK


def _quality_line_from_dict(q: dict[str, Any]) -> str:
    if "net_speech_s" in q:
        return (f"{float(q['net_speech_s']):.1f} s of speech, "
                f"{q.get('verdict_text') or q.get('verdict', '-')}")
    return "ok"


def _write_blob(path: Path, data: bytes) -> None:
    from engine.files import write_private_atomic

    write_private_atomic(path, data, what="voiceprint file")


def _parse_channels(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        channels = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise UsageError(
            "--channels is a comma-separated list of channel numbers, e.g. 0,1.",
            location="--channels",
        ) from None
    if not channels or min(channels) < 0:
        raise UsageError("--channels needs channel numbers from 0.", location="--channels")
    return channels


def cmd_serve(args: argparse.Namespace, out: Output) -> int:
    from engine.server.auth import load_or_create_token, token_path

    token = load_or_create_token()
    if args.print_token:
        out.emit({"token": token, "file": str(token_path())}, token)
        return EXIT_OK
    import uvicorn  # the server's packages load only for this command

    from engine.server.app import ServerConfig, create_app

    config = ServerConfig(workers=args.workers, token=token,
                          allowed_webhook_hosts=tuple(args.allow_webhook_host or ()),
                          prune_after_s=args.keep_days * 86400.0)
    loopback = args.host in ("127.0.0.1", "::1", "localhost")
    out.note(f"Serving on http://{args.host}:{args.port} (API docs at /docs); "
             f"the bearer token is in {token_path()} (vpstudio serve --print-token)."
             + ("" if loopback else " Warning: this host is reachable from other machines."))
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


# -- parser -------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting, so ``--json`` can report it."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(
            f"{message} (see: {self.prog} --help)", detail="cli.usage", location=self.prog
        )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _score(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError("is a score from 0 to 100")
    return value


def _identify_options(p: argparse.ArgumentParser, format_help: str) -> None:
    """The identification options of ``identify`` and ``batch``."""
    p.add_argument("--speakers", dest="num_speakers", type=_positive_int, metavar="N",
                   help="exact number of speakers, when known")
    p.add_argument("--min-speakers", type=_positive_int, metavar="N")
    p.add_argument("--max-speakers", type=_positive_int, metavar="N")
    p.add_argument("--threshold", type=_score, metavar="T",
                   help="minimum 0-100 score to name a speaker (default: calibrated)")
    p.add_argument("--format", default=None,
                   choices=("json", "rttm", "csv", "audacity", "eaf", "textgrid", "vtt", "srt"),
                   help=format_help)
    p.add_argument("--channel-mode", choices=("mix", "split"), default="mix",
                   help="mix the channels to mono (default), or identify each channel on its "
                   "own (call recordings with one party per channel); every turn then says "
                   "its channel")
    p.add_argument("--channels", metavar="LIST",
                   help="with --channel-mode split: the channels to identify, e.g. 0,1 "
                   "(from 0; default all)")


def build_parser() -> argparse.ArgumentParser:
    """The ``vpstudio`` argument parser."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="vpstudio",
        formatter_class=fmt,
        description=textwrap.dedent(
            """\
            Voiceprint Studio on the command line: enroll speakers from recordings,
            then find out who speaks when in other recordings. Everything runs on this
            computer; voiceprints (biometric data) stay in your local library.
            """
        ),
        epilog=textwrap.dedent(
            """\
            examples:
              vpstudio enroll "Ada Lovelace" ada1.wav ada2.wav
              vpstudio speakers
              vpstudio identify meeting.wav --format rttm -o meeting.rttm
              vpstudio compare ada.vp "Ada Lovelace,Charles Babbage"
              vpstudio --json speakers

            exit codes: 0 ok, 1 other error, 2 invalid input, 3 unreadable audio or no
            speech, 4 speaker not found or name conflict, 130 canceled.
            Run "vpstudio COMMAND --help" for each command's options.
            """
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    # The global options are accepted before and after the command name.
    common = _Parser(add_help=False)
    for target, default in ((parser, True), (common, False)):
        kw: dict[str, Any] = {} if default else {"default": argparse.SUPPRESS}
        target.add_argument(
            "--home", metavar="DIR", help="data folder holding the library (default: the "
            "user data folder, or $VPSTUDIO_HOME)", **({"default": None} if default else kw)
        )
        target.add_argument(
            "--json", action="store_true",
            help="machine-readable JSON on stdout, errors included", **kw
        )
        target.add_argument(
            "--progress", action="store_true",
            help="show progress on stderr even when it is not a terminal", **kw
        )
        target.add_argument(
            "--debug", action="store_true", help="print tracebacks of unexpected errors", **kw
        )

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_: str, description: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            parents=[common],
            help=help_,
            description=textwrap.fill(" ".join(description.split()), 79),
            epilog="example:\n  " + "\n  ".join(textwrap.dedent(example).strip().splitlines()),
            formatter_class=fmt,
        )
        return p

    p = command(
        "enroll", "enroll a speaker from one or more recordings",
        """
        Extract a voiceprint from each FILE and add it to speaker NAME (created if new).
        A quality report is printed per file. Recordings with too little clean speech
        are refused (nothing is written) unless --force is given; 20-60 s of speech
        from a quiet room gives the best voiceprint. When NAME is already enrolled, each
        recording must sound like them (score at or above the identification threshold;
        for a new NAME, like the files before it): otherwise nothing is written and the
        command fails with resource.conflict / voiceprint.speaker-mismatch (exit 4),
        unless --force. A private copy of each recording's audio is kept with its
        enrollment so the window can play it back.
        """,
        'vpstudio enroll "Ada Lovelace" ada_interview.wav ada_phone.mp3',
    )
    p.add_argument("name", metavar="NAME", help="speaker name (new or existing)")
    p.add_argument("files", metavar="FILE", nargs="+", help="audio or video files")
    p.add_argument("--force", action="store_true",
                   help="enroll even too-short recordings, or ones that do not sound like "
                        "the speaker already enrolled under NAME")
    p.set_defaults(func=cmd_enroll)

    p = command(
        "speakers", "list the enrolled speakers",
        "List the library's speakers with their number of enrollments and seconds of speech.",
        "vpstudio speakers --search ada",
    )
    p.add_argument("--search", metavar="TEXT", help="only speakers whose name or notes hold TEXT")
    p.set_defaults(func=cmd_speakers)

    p = command(
        "rename", "rename a speaker",
        "Rename speaker OLD to NEW (names are unique, ignoring case).",
        'vpstudio rename "Ada" "Ada Lovelace"',
    )
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.set_defaults(func=cmd_rename)

    p = command(
        "delete", "delete a speaker and its voiceprints",
        "Delete speaker NAME with all its enrollments. Asks first unless --yes is given "
        "(required when not run from a terminal).",
        'vpstudio delete "Ada Lovelace" --yes',
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)

    p = command(
        "merge", "merge two speakers into one",
        "Move every enrollment of speaker FROM to speaker INTO, then delete FROM. Use it "
        "when one person was enrolled twice under different names.",
        'vpstudio merge "Ada Lovelace" "A. Lovelace"',
    )
    p.add_argument("into", metavar="INTO")
    p.add_argument("source", metavar="FROM")
    p.set_defaults(func=cmd_merge)

    p = command(
        "export", "export speakers to a JSON file",
        "Write speakers (all, or the NAMES given) with their voiceprints to one JSON file, "
        "to back up the library or move it to another computer. The file holds biometric "
        "data: it is created readable by you only.",
        "vpstudio export backup.json\nvpstudio export two.json \"Ada Lovelace\" \"Alan Turing\"",
    )
    p.add_argument("file", metavar="FILE", type=Path)
    p.add_argument("names", metavar="NAMES", nargs="*", help="speakers to export (default: all)")
    p.set_defaults(func=cmd_export)

    p = command(
        "import", "import speakers from an export file",
        "Add the speakers of an export FILE to the library. The whole file is checked first "
        "(format, speaker model, voiceprints); then it is imported in one step: all or nothing. "
        "Voiceprints from another speaker model are refused: re-enroll those speakers.",
        "vpstudio import backup.json --on-conflict merge",
    )
    p.add_argument("file", metavar="FILE", type=Path)
    p.add_argument(
        "--on-conflict", choices=("skip", "rename", "merge"), default="skip",
        help="a name already in the library: skip the imported speaker (default), rename it "
        "(\"Name (2)\"), or merge its voiceprints into the existing speaker",
    )
    p.set_defaults(func=cmd_import)

    p = command(
        "identify", "find who speaks when in a recording",
        "Diarize FILE and label each speaker with the best-matching enrolled speaker, or "
        "UNKNOWN_nn when none scores at least the threshold. Speakers are written by name. "
        "With --channel-mode split each channel is diarized and identified on its own "
        "(--speakers and --min/--max-speakers count per channel) and each turn says its "
        "channel; an unknown voice on one channel never shares an UNKNOWN_nn label with one "
        "on another, while an enrolled speaker heard on two channels keeps their name on both.",
        "vpstudio identify meeting.wav\nvpstudio identify call.mp3 --speakers 2 --format csv "
        "-o call.csv\nvpstudio identify call.wav --channel-mode split --channels 0,1 --speakers 1",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT", type=Path,
                   help="write to OUT instead of stdout")
    _identify_options(p, "output format (default: from OUT's suffix .json/.rttm/.csv/.txt/"
                      ".eaf/.TextGrid/.vtt/.srt, else json); eaf: ELAN, textgrid: Praat, "
                      "vtt/srt: [Speaker] captions")
    p.set_defaults(func=cmd_identify)

    from engine.batch.command import add_parser as add_batch_parser

    add_batch_parser(command, _identify_options, _positive_int)

    p = command(
        "compare", "score voiceprints against each other",
        "Print the 0-100 score matrix between A and B. Each of A and B is a voiceprint file "
        "(.vp from \"vpstudio voiceprint\"), a library export (.json), comma-separated "
        "names of enrolled speakers, or @LIST: a text file with one name or file per line "
        "(for long lists: up to 50,000).",
        'vpstudio compare unknown.vp "Ada Lovelace,Alan Turing"\nvpstudio --json compare a.vp b.vp',
    )
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.set_defaults(func=cmd_compare)

    p = command(
        "voiceprint", "extract a voiceprint file from a recording",
        "Extract the voiceprint of the (single) speaker in FILE and save it as a binary .vp "
        "file, for \"vpstudio compare\" or other tools. With --channel-mode split, one file "
        "per channel is written (OUT.ch0.vp, OUT.ch1.vp ...), e.g. for call recordings with "
        "one party per channel.",
        "vpstudio voiceprint ada.wav -o ada.vp\nvpstudio voiceprint call.wav -o call.vp "
        "--channel-mode split --channels 0,1",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="output .vp file")
    p.add_argument("--channel-mode", choices=("mix", "split"), default="mix",
                   help="mix channels to mono (default) or one voiceprint per channel")
    p.add_argument("--channels", metavar="LIST", help="channels to use, e.g. 0,1 (from 0)")
    p.set_defaults(func=cmd_voiceprint)

    p = command(
        "serve", "serve the local HTTP API (identification jobs, webhooks)",
        "Serve cloud-style speaker identification on this machine: POST /v1/identify, "
        "/v1/voiceprint and /v1/compare, follow jobs at /v1/jobs/{id} or with a webhook; "
        "OpenAPI docs at /docs. Every request needs 'Authorization: Bearer TOKEN'; the "
        "token is made at first start and kept (readable by you only) in the data folder. "
        "Binds to loopback unless --host says otherwise.",
        "vpstudio serve --port 8752 --workers 2\nvpstudio serve --print-token",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8752, help="port (default 8752)")
    p.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                   help="jobs that run at once (default 1)")
    p.add_argument("--print-token", action="store_true",
                   help="print the bearer token (made if missing) and exit")
    p.add_argument("--allow-webhook-host", action="append", metavar="HOST",
                   help="allow webhooks to HOST besides loopback (repeatable; * for any)")
    p.add_argument("--keep-days", type=float, default=7.0, metavar="D",
                   help="delete ended jobs after D days (default 7)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vpstudio`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Output(json_mode="--json" in argv, progress="--progress" in argv)
    debug = "--debug" in argv
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
        out.json = bool(args.json)
        debug = bool(args.debug)
        if args.command is None:
            parser.print_help(out.stdout)
            return EXIT_USAGE
        if args.home:
            from engine.paths import set_data_home

            set_data_home(args.home)
        return int(args.func(args, out))
    except BrokenPipeError:  # e.g. "vpstudio speakers | head": the reader left, stay quiet
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OTHER
    except (KeyboardInterrupt, Cancelled) as exc:
        out.error(exc)
        return EXIT_CANCELED
    except VPError as exc:
        if debug:
            import traceback

            traceback.print_exc(file=out.stderr)
        out.error(exc)
        return exit_code(exc)
    except Exception as exc:  # the last line of defence: typed JSON, never a bare traceback
        import traceback

        if debug:
            traceback.print_exc(file=out.stderr)
        out.error(exc)
        return EXIT_OTHER
    finally:
        out.end_progress()
        while _OPENED:
            _OPENED.pop().close()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("OMP_NUM_THREADS", str(min(4, os.cpu_count() or 1)))
    sys.exit(main())
