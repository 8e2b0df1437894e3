"""What a session file holds beyond the reviewed turns: the engine result's
per-speaker curves and cluster scores (so a reopened session draws what was on
screen and can re-decide names at a new threshold), the undo history, and a
private atomic write for the autosave.

Qt-free: plain JSON in and out; the window turns it back into objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.private_files import write_private
from engine.segments import ScoreTrack
from gui.review_model import Edit, _turn_dict, _turn_from

# an undo history longer than this is cut from the oldest end: each edit holds two
# copies of the turn list, and a session file must stay quick to write every few seconds
MAX_SAVED_EDITS = 50


def write_private_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically, readable by the user only (0600)."""
    write_private(path, json.dumps(data))


def _track_to_json(track: ScoreTrack | None) -> dict[str, Any] | None:
    if track is None:
        return None
    return {"start": track.start, "step": track.step,
            "values": np.round(np.asarray(track.values, np.float64), 1).tolist()}


def _track_from_json(d: Mapping[str, Any] | None) -> ScoreTrack | None:
    if not d:
        return None
    return ScoreTrack(float(d["start"]), float(d["step"]), np.asarray(d["values"], np.float32))


def result_to_json(result: Any) -> dict[str, Any] | None:
    """The parts of an engine result a session needs besides the turns (None: nothing)."""
    if result is None:
        return None
    clusters = [
        {"label": c.label, "speaker": c.speaker, "score": float(c.score),
         "duration": float(c.duration),
         "centroid": np.round(np.asarray(c.centroid, np.float64), 5).tolist(),
         "matches": [[str(v), float(s)] for v, s in c.matches]}
        for c in getattr(result, "clusters", ()) or ()
    ]
    return {
        "speaker_curves": _track_to_json(getattr(result, "speaker_curves", None)),
        "speaker_ids": [str(s) for s in getattr(result, "speaker_ids", ()) or ()],
        "clusters": clusters,
        "model_id": str(getattr(result, "model_id", "") or ""),
    }


def result_from_json(d: Mapping[str, Any] | None, turns: Sequence[Any], confidence: Any,
                     duration: float) -> Any:
    """An ``IdentificationResult`` rebuilt from :func:`result_to_json` and the original turns."""
    from engine.identify import ClusterInfo, IdentificationResult
    from engine.segments import readonly

    d = d or {}
    clusters = tuple(
        ClusterInfo(label=str(c["label"]), speaker=str(c["speaker"]), score=float(c["score"]),
                    duration=float(c["duration"]),
                    centroid=readonly(np.asarray(c.get("centroid", []), np.float32)),
                    matches=tuple((str(v), float(s)) for v, s in c.get("matches", [])))
        for c in d.get("clusters", [])
    )
    return IdentificationResult(
        turns=tuple(turns), confidence=confidence,
        speaker_curves=_track_from_json(d.get("speaker_curves")),
        speaker_ids=tuple(str(s) for s in d.get("speaker_ids", [])),
        clusters=clusters, duration=float(duration), model_id=str(d.get("model_id", "")),
        num_speakers=len(clusters) or len({t.speaker for t in turns}),
    )


def edits_to_json(edits: Sequence[Edit]) -> list[dict[str, Any]]:
    return [
        {"text": e.text, "before": [_turn_dict(t) for t in e.before],
         "after": [_turn_dict(t) for t in e.after],
         "names_before": dict(e.names_before), "names_after": dict(e.names_after)}
        for e in list(edits)[-MAX_SAVED_EDITS:]
    ]


def edits_from_json(items: Sequence[Mapping[str, Any]] | None) -> list[Edit]:
    out = []
    for d in items or []:
        out.append(Edit(str(d["text"]), tuple(sorted(_turn_from(t) for t in d["before"])),
                        tuple(sorted(_turn_from(t) for t in d["after"])),
                        dict(d.get("names_before", {})), dict(d.get("names_after", {}))))
    return out
