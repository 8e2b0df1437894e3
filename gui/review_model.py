"""The review state of one identification result, as plain Python (no Qt).

The window shows and edits a :class:`ReviewModel`; every change is an
:class:`Edit` holding the turns before and after, so undo/redo (the window
wraps edits in ``QUndoCommand``) is exact and tests can assert on data.
Labels are speaker ids: an enrolled speaker's id from the library, an
``UNKNOWN_nn`` cluster, or ``NEW_nn`` for a person named during review who is not
(yet) in the library. ``names`` maps labels to display names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.private_files import write_private
from engine.segments import ScoreTrack, Turn, is_unknown, unknown_label

NEW_PREFIX = "NEW_"
SESSION_VERSION = 1


@dataclass(frozen=True)
class Edit:
    """One undoable change: the whole turn list (and names) before and after."""

    text: str
    before: tuple[Turn, ...]
    after: tuple[Turn, ...]
    names_before: Mapping[str, str] = field(default_factory=dict)
    names_after: Mapping[str, str] = field(default_factory=dict)


class ReviewError(ValueError):
    """An edit that cannot be made (e.g. split outside the turn)."""


class ReviewModel:
    """Turns being reviewed, plus the original result they came from."""

    def __init__(
        self,
        turns: Iterable[Turn] = (),
        *,
        names: Mapping[str, str] | None = None,
        confidence: ScoreTrack | None = None,
        duration: float = 0.0,
    ) -> None:
        self.original: tuple[Turn, ...] = tuple(sorted(turns))
        self.turns: tuple[Turn, ...] = self.original
        self.names: dict[str, str] = dict(names or {})
        self.confidence = confidence
        self.duration = float(duration)
        self.history: list[str] = []  # texts of applied edits, for the session file
        # looks up names the model does not own (enrolled speakers' names in the library)
        self.namer: Callable[[str], str | None] | None = None

    # -- reading ---------------------------------------------------------------------
    def name(self, label: str) -> str:
        if label in self.names:
            return self.names[label]
        if self.namer is not None:
            found = self.namer(label)
            if found:
                return found
        if is_unknown(label):
            return f"Unknown {int(label[len('UNKNOWN_'):]) + 1:d}" if label[8:].isdigit() else label
        return label

    def labels(self) -> list[str]:
        """Speaker labels in lane order: named speakers first (by name), then unknowns.

        With channels (a split-channel result) the lanes are grouped by channel first,
        a speaker heard on several channels going with the lowest one.
        """
        seen = {t.speaker for t in self.turns}
        known = sorted((s for s in seen if not is_unknown(s)), key=lambda s: self.name(s).lower())
        unknown = sorted(s for s in seen if is_unknown(s))
        ordered = known + unknown
        chans = self.channels_of()
        if chans:
            ordered.sort(key=lambda s: min(chans.get(s, (1 << 30,))))  # stable: keeps the rest
        return ordered

    def channels_of(self) -> dict[str, tuple[int, ...]]:
        """Label -> the channels its turns are on (empty when no turn has a channel)."""
        out: dict[str, set[int]] = {}
        for t in self.turns:
            if t.channel is not None:
                out.setdefault(t.speaker, set()).add(t.channel)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def cluster_turns(self, cluster: str) -> list[int]:
        return [i for i, t in enumerate(self.turns) if cluster and t.cluster == cluster]

    def turns_of(self, label: str) -> list[int]:
        return [i for i, t in enumerate(self.turns) if t.speaker == label]

    def turn_at(self, t: float, label: str | None = None) -> int | None:
        """Index of a turn containing time ``t`` (in lane ``label`` if given)."""
        for i, turn in enumerate(self.turns):
            if turn.start <= t <= turn.end and (label is None or turn.speaker == label):
                return i
        return None

    def next_unknown_label(self) -> str:
        used = {t.speaker for t in self.turns} | set(self.names)
        i = 0
        while unknown_label(i) in used:
            i += 1
        return unknown_label(i)

    def new_label(self) -> str:
        used = {t.speaker for t in self.turns} | set(self.names)
        i = 1
        while f"{NEW_PREFIX}{i:02d}" in used:
            i += 1
        return f"{NEW_PREFIX}{i:02d}"

    # -- building edits ----------------------------------------------------------------
    def _edit(self, text: str, after: Sequence[Turn],
              names_after: Mapping[str, str] | None = None) -> Edit:
        return Edit(text, self.turns, tuple(sorted(after)), dict(self.names),
                    dict(self.names if names_after is None else names_after))

    def relabel(self, indices: Iterable[int], label: str, *, name: str | None = None,
                scores: Mapping[str, float] | None = None) -> Edit:
        """Edit giving the turns at ``indices`` the speaker ``label``.

        ``scores`` maps cluster labels to the 0-100 score of ``label``'s voiceprint
        against that cluster; a turn of a listed cluster takes that score, others keep
        theirs (a person's judgement has no score).
        """
        idx = set(indices)
        if not idx:
            raise ReviewError("No segment selected.")
        for i in idx:
            if not 0 <= i < len(self.turns):
                raise ReviewError(f"No segment number {i + 1}.")
        sc = scores or {}
        after = [replace(t, speaker=label, score=sc.get(t.cluster, t.score)) if i in idx else t
                 for i, t in enumerate(self.turns)]
        names = dict(self.names)
        if name is not None:
            names[label] = name
        who = name or self.name(label)
        what = "segment" if len(idx) == 1 else f"{len(idx)} segments"
        return self._edit(f"Relabel {what} as {who}", after, names)

    def relabel_cluster(self, cluster: str, label: str, *, name: str | None = None) -> Edit:
        idx = self.cluster_turns(cluster)
        if not idx:
            raise ReviewError(f"No turns in cluster {cluster!r}.")
        return self.relabel(idx, label, name=name)

    def split(self, index: int, t: float) -> Edit:
        """Edit splitting turn ``index`` at time ``t`` (strictly inside it)."""
        turn = self.turns[index]
        if not turn.start < t < turn.end:
            raise ReviewError(
                f"The playhead ({t:.2f} s) is not inside the segment "
                f"({turn.start:.2f}-{turn.end:.2f} s)."
            )
        after = list(self.turns)
        after[index : index + 1] = [replace(turn, end=t), replace(turn, start=t)]
        return self._edit("Split segment", after)

    def next_in_time(self, index: int) -> int | None:
        """Index of the turn that starts next after turn ``index`` on the same channel
        (None: it is the last). Channels are separate recordings of separate people."""
        ch = self.turns[index].channel
        return next((j for j in range(index + 1, len(self.turns)) if self.turns[j].channel == ch),
                    None)

    def can_merge_with_next(self, index: int) -> bool:
        """True when the next turn in time is the same speaker's (a merge crosses nobody)."""
        nxt = self.next_in_time(index)
        return nxt is not None and self.turns[nxt].speaker == self.turns[index].speaker

    def merge_with_next(self, index: int) -> Edit:
        """Edit merging turn ``index`` with the next turn in time on its channel, if it is
        the same speaker's.

        Never across another speaker's turn: merging would cover their speech.
        """
        turn = self.turns[index]
        nxt = self.next_in_time(index)
        if nxt is None:
            raise ReviewError("This is the last segment: there is no next one to merge with.")
        other = self.turns[nxt]
        if other.speaker != turn.speaker:
            raise ReviewError(f"The next segment is {self.name(other.speaker)}'s: merging would "
                              "cover their speech.")
        merged = replace(turn, end=max(turn.end, other.end),
                         score=max(turn.score, other.score))
        after = [t for j, t in enumerate(self.turns) if j not in (index, nxt)] + [merged]
        return self._edit("Merge segments", after)

    def delete(self, indices: Iterable[int]) -> Edit:
        idx = set(indices)
        if not idx:
            raise ReviewError("No segment selected.")
        after = [t for i, t in enumerate(self.turns) if i not in idx]
        return self._edit(f"Delete {len(idx)} segment(s)", after)

    # -- applying --------------------------------------------------------------------
    def apply(self, edit: Edit) -> None:
        self.turns = edit.after
        self.names = dict(edit.names_after)
        self.history.append(edit.text)

    def revert(self, edit: Edit) -> None:
        self.turns = edit.before
        self.names = dict(edit.names_before)
        if self.history:
            self.history.pop()

    # -- sessions --------------------------------------------------------------------
    def to_session(self, audio_path: str | None) -> dict[str, Any]:
        conf = None
        if self.confidence is not None:
            conf = {
                "start": self.confidence.start,
                "step": self.confidence.step,
                "values": np.round(np.asarray(self.confidence.values, np.float64), 2).tolist(),
            }
        return {
            "format": "voiceprint-studio-session",
            "version": SESSION_VERSION,
            "audio": audio_path,
            "duration": self.duration,
            "original": [_turn_dict(t) for t in self.original],
            "turns": [_turn_dict(t) for t in self.turns],
            "names": self.names,
            "edits": list(self.history),
            "confidence": conf,
        }

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> tuple[ReviewModel, str | None]:
        if data.get("format") != "voiceprint-studio-session":
            raise ReviewError("This file is not a Voiceprint Studio session.")
        if int(data.get("version", 0)) > SESSION_VERSION:
            raise ReviewError("This session was saved by a newer Voiceprint Studio.")
        try:
            conf = None
            c = data.get("confidence")
            if c:
                conf = ScoreTrack(float(c["start"]), float(c["step"]),
                                  np.asarray(c["values"], dtype=np.float32))
            model = cls([_turn_from(d) for d in data["original"]], names=data.get("names", {}),
                        confidence=conf, duration=float(data.get("duration", 0.0)))
            model.turns = tuple(sorted(_turn_from(d) for d in data["turns"]))
            model.history = [str(e) for e in data.get("edits", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise ReviewError(f"The session file is damaged: {exc}") from exc
        return model, data.get("audio")

    def save_session(self, path: str | Path, audio_path: str | None) -> None:
        # 0600 wherever it is saved: a session names the speakers of a recording
        write_private(path, json.dumps(self.to_session(audio_path), indent=1))

    @classmethod
    def load_session(cls, path: str | Path) -> tuple[ReviewModel, str | None]:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReviewError(f"Cannot read the session file: {exc}") from exc
        return cls.from_session(data)


def _turn_dict(t: Turn) -> dict[str, Any]:
    d: dict[str, Any] = {"start": round(t.start, 3), "end": round(t.end, 3),
                         "speaker": t.speaker, "score": round(float(t.score), 2),
                         "cluster": t.cluster}
    if t.channel is not None:
        d["channel"] = int(t.channel)
    return d


def _turn_from(d: Mapping[str, Any]) -> Turn:
    ch = d.get("channel")
    return Turn(float(d["start"]), float(d["end"]), str(d["speaker"]),
                float(d.get("score", 0.0)), str(d.get("cluster", "")),
                None if ch is None else int(ch))
