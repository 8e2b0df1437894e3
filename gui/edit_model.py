"""Editing moves on a :class:`~gui.review_model.ReviewModel`, as plain Python (no Qt).

Each function returns an :class:`~gui.review_model.Edit` (the window puts it on the
undo stack) or raises :class:`~gui.review_model.ReviewError` with a message for the
status bar. Times are seconds from the start of the recording.

Rules for a turn's bounds (``check_bounds``): ``0 <= start < end <= duration``, at
least :data:`MIN_TURN_S` long, and not overlapping another turn of the same speaker
on the same channel (that would be one turn: merge them instead). Turns of
different speakers may overlap (overlapped speech).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from engine.segments import Turn
from gui.review_model import Edit, ReviewError, ReviewModel

MIN_TURN_S = 0.01
"""Shortest turn an edit may leave (seconds)."""
SNAP_SAMPLES_PER_PX = 4.0
"""Zoomed in so far that a pixel holds at most this many samples: snap to samples."""
COARSE_STEP_S = 0.001
"""Zoomed out: times are rounded to this step (what sessions and exports keep)."""

_TIME = re.compile(r"^\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?|\.\d+)\s*(?:s)?\s*$")


def fmt_t(t: float) -> str:
    """``m:ss.cc`` (``h:mm:ss.cc`` past an hour), as ``gui.segment_table.fmt_time``
    writes it (that module needs Qt; this one does not)."""
    t = max(0.0, float(t))
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:05.2f}" if h else f"{int(m)}:{s:05.2f}"


def parse_time(text: str) -> float:
    """Seconds from ``"12.5"``, ``"1:02.25"``, ``"1:00:02.5"`` (or ``"12.5 s"``).

    Raises:
        ReviewError: the text is not a time.
    """
    m = _TIME.match(text or "")
    if m is None:
        raise ReviewError(f"{text!r} is not a time: type seconds (12.5) or minutes:seconds "
                          "(1:02.25) or hours:minutes:seconds (1:00:02.5).")
    a, b, s = m.groups()
    if b is not None:  # h:mm:ss
        h, mi = int(a), int(b)
    else:
        h, mi = 0, int(a) if a is not None else 0
    if (a is not None and float(s) >= 60) or (b is not None and mi >= 60):
        raise ReviewError(f"{text!r} is not a time: minutes and seconds go up to 59.")
    return h * 3600.0 + mi * 60.0 + float(s)


def snap_time(t: float, sample_rate: int, seconds_per_px: float) -> float:
    """``t`` snapped for a drag at the current zoom.

    Zoomed in (a pixel holds at most :data:`SNAP_SAMPLES_PER_PX` samples, where the
    waveform shows the samples themselves) ``t`` goes to the nearest sample;
    otherwise it is rounded to :data:`COARSE_STEP_S`.
    """
    if sample_rate > 0 and seconds_per_px * sample_rate <= SNAP_SAMPLES_PER_PX:
        return round(t * sample_rate) / sample_rate
    return round(t / COARSE_STEP_S) * COARSE_STEP_S


def _same_lane(a: Turn, b: Turn) -> bool:
    return a.speaker == b.speaker and a.channel == b.channel


def neighbours(turns: Sequence[Turn], index: int) -> tuple[float, float]:
    """Where turn ``index`` may grow to: (end of the previous, start of the next)
    turn of the same speaker on the same channel; ``-inf`` / ``inf`` when none."""
    me = turns[index]
    lo, hi = -math.inf, math.inf
    for j, t in enumerate(turns):
        if j == index or not _same_lane(t, me):
            continue
        if t.end <= me.start + 1e-9:
            lo = max(lo, t.end)
        elif t.start >= me.end - 1e-9:
            hi = min(hi, t.start)
    return lo, hi


def check_bounds(model: ReviewModel, index: int, start: float, end: float) -> None:
    """Raise :class:`ReviewError` (a message a person can act on) unless turn ``index``
    may take the bounds ``[start, end]`` seconds."""
    if not 0 <= index < len(model.turns):
        raise ReviewError(f"No segment number {index + 1}.")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ReviewError("The start and end must be numbers of seconds.")
    if start < 0:
        raise ReviewError(f"The start ({fmt_t(start)}) cannot be before the recording starts.")
    if model.duration > 0 and end > model.duration + 1e-6:
        raise ReviewError(f"The end ({end:.2f} s) is past the end of the recording "
                          f"({fmt_t(model.duration)}).")
    if end - start < MIN_TURN_S - 1e-9:
        raise ReviewError(f"The start ({fmt_t(start)}) must be before the end ({fmt_t(end)}).")
    me = model.turns[index]
    for j, t in enumerate(model.turns):
        if j != index and _same_lane(t, me) and t.start < end - 1e-9 and start < t.end - 1e-9:
            raise ReviewError(
                f"{fmt_t(start)}-{fmt_t(end)} would overlap {model.name(t.speaker)}'s segment "
                f"{fmt_t(t.start)}-{fmt_t(t.end)}: merge them instead (M).")


def set_bounds(model: ReviewModel, index: int, start: float | None = None,
               end: float | None = None) -> Edit:
    """Edit giving turn ``index`` new bounds (None keeps that bound)."""
    if not 0 <= index < len(model.turns):
        raise ReviewError(f"No segment number {index + 1}.")
    t = model.turns[index]
    s = t.start if start is None else float(start)
    e = t.end if end is None else float(end)
    check_bounds(model, index, s, e)
    after = list(model.turns)
    after[index] = replace(t, start=s, end=e)
    what = "start" if end is None else "end" if start is None else "bounds"
    return Edit(f"Move segment {what}", model.turns, tuple(sorted(after)), dict(model.names),
                dict(model.names))


def clamp_edge(model: ReviewModel, index: int, edge: str, t: float) -> float:
    """Where a drag of turn ``index``'s ``edge`` ("start" or "end") to ``t`` may go:
    inside the recording, before/after the turn's other bound by :data:`MIN_TURN_S`,
    and not over a turn of the same speaker and channel."""
    turn = model.turns[index]
    lo, hi = neighbours(model.turns, index)
    dur = model.duration if model.duration > 0 else math.inf
    if edge == "start":
        return min(max(t, 0.0, lo), turn.end - MIN_TURN_S)
    if edge == "end":
        return max(min(t, dur, hi), turn.start + MIN_TURN_S)
    raise ValueError(f"edge must be 'start' or 'end', not {edge!r}")


def move_edge(model: ReviewModel, index: int, edge: str, t: float) -> Edit:
    """Edit moving turn ``index``'s ``edge`` to ``t`` (clamped by :func:`clamp_edge`)."""
    t = clamp_edge(model, index, edge, t)
    return set_bounds(model, index, **{edge: t})


def index_after(edit: Edit, index: int) -> int | None:
    """Where turn ``index`` of ``edit.before`` is in ``edit.after`` (None: gone).

    For a bounds edit, the moved turn: the one turn of ``after`` not in ``before``.
    """
    before, after = edit.before, edit.after
    if 0 <= index < len(before) and before[index] in after:
        return after.index(before[index])
    new = [i for i, t in enumerate(after) if t not in before]
    return new[0] if len(new) == 1 else None


@dataclass(frozen=True)
class SpeakerChoice:
    """A speaker as offered in the table's combo box: label and display name."""

    label: str
    name: str


def speaker_choices(model: ReviewModel, library: Mapping[str, str]) -> list[SpeakerChoice]:
    """Library speakers (id -> name, by name), then the review's other labels in lane order."""
    out = [SpeakerChoice(sid, name) for sid, name in sorted(library.items(),
                                                              key=lambda kv: kv[1].lower())]
    seen = {c.label for c in out}
    out += [SpeakerChoice(lab, model.name(lab)) for lab in model.labels() if lab not in seen]
    return out


def resolve_speaker(model: ReviewModel, name: str,
                    library: Mapping[str, str]) -> tuple[str, str | None]:
    """The label for a speaker typed or picked by ``name`` (case-insensitive).

    Returns ``(label, new_name)``: a library speaker's id or a label already in the
    review (``new_name`` None), else a fresh ``NEW_nn`` label unknown to the library
    with ``new_name`` the name typed.
    """
    text = " ".join((name or "").split())
    if not text:
        raise ReviewError("Type a speaker's name.")
    for c in speaker_choices(model, library):
        if c.name.lower() == text.lower() or c.label == text:
            return c.label, None
    for lab, nm in model.names.items():  # named during review, turns since relabelled
        if nm.lower() == text.lower():
            return lab, None
    return model.new_label(), text


def relabel_by_name(model: ReviewModel, index: int, name: str,
                    library: Mapping[str, str]) -> Edit:
    """Edit giving turn ``index`` the speaker called ``name`` (see :func:`resolve_speaker`)."""
    label, new_name = resolve_speaker(model, name, library)
    if 0 <= index < len(model.turns) and model.turns[index].speaker == label:
        raise ReviewError(f"The segment is already {model.name(label)}'s.")
    return model.relabel([index], label, name=new_name)


def lane_label(model: ReviewModel, n: int) -> str:
    """The speaker of lane ``n`` (1 = top lane), for the 1-9 keys."""
    labels = model.labels()
    if not 1 <= n <= len(labels):
        raise ReviewError(f"There is no speaker {n}: the timeline has "
                          f"{len(labels)} lane{'s' if len(labels) != 1 else ''}.")
    return labels[n - 1]


def step_turn(model: ReviewModel, current: int | None, step: int, at: float = 0.0) -> int | None:
    """The turn after (``step`` 1) or before (-1) ``current`` in time; with no current
    turn, the first one starting after (or the last one starting before) time ``at``.
    None when there is none."""
    n = len(model.turns)
    if n == 0:
        return None
    if current is not None and 0 <= current < n:
        j = current + step
        return j if 0 <= j < n else None
    if step > 0:
        return next((i for i, t in enumerate(model.turns) if t.start >= at - 1e-9), None)
    return next((i for i in range(n - 1, -1, -1) if model.turns[i].start < at - 1e-9), None)


def readout_text(selection: tuple[float, float] | None, playhead: float) -> str:
    """The status-bar readout: ``"Selection 0:01.20-0:03.40 (2.20 s) | Playhead 0:02.00"``."""
    head = f"Playhead {fmt_t(playhead)}"
    if selection is None:
        return f"No selection | {head}"
    a, b = selection
    return f"Selection {fmt_t(a)}-{fmt_t(b)} ({b - a:.2f} s) | {head}"
