"""ELAN ``.eaf`` and Praat TextGrid: speaker turns as annotation tiers (via ``pympi-ling``).

Both formats hold **one tier per speaker**: the tier's name is the speaker label (as
the turns say it: an enrolled name, ``UNKNOWN_nn``, ...), and each turn is one
annotation on it, whose text is the label again (so the turn reads as the speaker in
ELAN or Praat). Reading takes the speaker from the tier (ELAN: the tier's
``PARTICIPANT`` when set, else its id; only independent tiers, not child tiers, which
would count a turn twice) and skips empty intervals (Praat's gaps).

A tier cannot hold two overlapping annotations (neither ELAN nor Praat allows it), so
one speaker's overlapping or touching turns are written as their union; turns of
different speakers may overlap freely (they are on different tiers). Scores,
clusters and channels are not written (the formats have no place for them); times
are milliseconds in ``.eaf`` (ELAN's time slots) and seconds rounded to the
millisecond in a TextGrid.

A TextGrid spans ``[0, duration]`` (the recording's duration when the result knows
it, else the last turn's end); written as Praat's long text format, UTF-8. Reading
accepts long, short and binary TextGrids, UTF-8 or UTF-16 (Praat's choice for
non-ASCII text).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from engine.errors import ValidationError
from engine.segments import Turn

MS = 1000.0


def _bad(message: str, location: str | None = None) -> ValidationError:
    return ValidationError(message, location=location, detail="format.invalid")


def tiers_of(turns: Iterable[Turn]) -> dict[str, list[tuple[float, float]]]:
    """Speaker label -> that speaker's turns as disjoint ``(start, end)`` seconds, sorted
    (overlapping or touching turns of one speaker merged), speakers in order of first
    appearance (by time)."""
    by: dict[str, list[tuple[float, float]]] = {}
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        if t.end <= t.start:
            continue  # an empty turn: no annotation can hold it
        spans = by.setdefault(t.speaker, [])
        if spans and t.start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], t.end))
        else:
            spans.append((t.start, t.end))
    return by


def _check_speaker(label: str, where: str) -> str:
    label = label.strip()
    if not label:
        raise _bad("a tier has no name (the speaker label is missing).", where)
    return label


# --------------------------------------------------------------------------- ELAN


def to_eaf(turns: Sequence[Turn]) -> str:
    """The ``.eaf`` XML text (EAF 2.8, as pympi writes it) of ``turns`` (seconds); no
    media file is linked (ELAN asks for it when the file is opened)."""
    from pympi import Elan

    eaf = Elan.Eaf(author="Voiceprint Studio")
    eaf.remove_tier("default")
    for label, spans in tiers_of(turns).items():
        eaf.add_tier(label, part=label)
        for a, b in spans:
            eaf.add_annotation(label, int(round(a * MS)), int(round(b * MS)), label)
    # ELAN numbers new annotations after this one (pympi leaves it at 0)
    eaf.properties = [("lastUsedAnnotation", eaf.maxaid if len(eaf.annotations) else 0)]
    text = Elan.to_string(eaf)
    assert isinstance(text, str)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text


def from_eaf(path: str | os.PathLike[str]) -> list[Turn]:
    """The turns of an ``.eaf`` file (one per aligned annotation of each independent tier)."""
    from pympi import Elan

    p = Path(path)
    try:
        eaf = Elan.Eaf(str(p), suppress_version_warning=True)
    except Exception as exc:  # pympi raises bare Exception and parser errors
        raise _bad(f"Cannot read {p.name} as an ELAN file: {exc}.", str(p)) from None
    turns: list[Turn] = []
    for tier_id, tier in eaf.tiers.items():
        attrs = tier[2]
        if attrs.get("PARENT_REF"):
            continue  # a child tier: its annotations belong to its parent's turns
        label = _check_speaker(str(attrs.get("PARTICIPANT") or tier_id), f"tier {tier_id!r}")
        try:
            data = eaf.get_annotation_data_for_tier(tier_id)
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad(f"tier {tier_id!r} has unaligned annotations ({exc}).") from None
        for item in data:
            a, b = item[0], item[1]
            if a is None or b is None:
                continue  # an unaligned annotation: no time to show
            if b < a or a < 0:
                raise _bad(f"an annotation ends ({b} ms) before it starts ({a} ms).",
                           f"tier {tier_id!r}")
            turns.append(Turn(a / MS, b / MS, label))
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))


# --------------------------------------------------------------------------- TextGrid


def _textgrid(turns: Sequence[Turn], duration: float | None) -> object:
    from pympi import Praat

    tiers = tiers_of(turns)
    end = max((s[-1][1] for s in tiers.values() if s), default=0.0)
    xmax = round(max(float(duration or 0.0), end), 3)
    if xmax <= 0:
        xmax = 0.001  # Praat needs xmax > xmin even for an empty grid
    tg = Praat.TextGrid(xmin=0, xmax=xmax)
    for label, spans in tiers.items():
        tier = tg.add_tier(label)
        tier.xmax = xmax
        for a, b in spans:
            tier.add_interval(round(a, 3), min(round(b, 3), xmax), label, check=False)
    return tg


def to_textgrid(turns: Sequence[Turn], *, duration: float | None = None) -> str:
    """The TextGrid text (long format) of ``turns``: one interval tier per speaker over
    ``[0, max(duration, last end)]`` seconds."""
    tg = _textgrid(turns, duration)
    with tempfile.TemporaryDirectory(prefix="vps-textgrid-") as d:
        p = Path(d) / "out.TextGrid"
        tg.to_file(str(p), codec="utf-8", mode="normal")  # type: ignore[attr-defined]
        return p.read_text(encoding="utf-8")


def _codec(p: Path) -> str:
    with p.open("rb") as f:
        head = f.read(2)
    return "utf-16" if head in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def from_textgrid(path: str | os.PathLike[str]) -> list[Turn]:
    """The turns of a TextGrid: each non-empty interval of each interval tier (point
    tiers are skipped)."""
    from pympi import Praat

    p = Path(path)
    try:
        tg = Praat.TextGrid(str(p), codec=_codec(p))
    except Exception as exc:  # pympi raises bare Exception, AttributeError, StopIteration
        raise _bad(f"Cannot read {p.name} as a Praat TextGrid: {exc!r}.", str(p)) from None
    turns: list[Turn] = []
    for tier in tg.get_tiers():
        if tier.tier_type != "IntervalTier":
            continue
        label = _check_speaker(str(tier.name or ""), f"tier {tier.name!r}")
        for a, b, text in tier.get_intervals(sort=True):
            if not str(text).strip():
                continue  # a gap between turns
            if b < a or a < 0:
                raise _bad(f"an interval ends ({b}) before it starts ({a}).", f"tier {label!r}")
            turns.append(Turn(round(float(a), 6), round(float(b), 6), label))
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
