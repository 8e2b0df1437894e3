"""Golden outputs of :func:`engine.identify.identify` on the real-speech dev data.

Recorded before the pipeline was split into stages (issue 11 step 1), so the golden
test (tests/test_identify_golden.py) shows the refactor changed no output: turn
bounds, labels, scores, the confidence track, speaker curves and cluster info.

    python -m tests._golden_identify          # rewrite tests/data/identify_golden.json.gz
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests import _helpers_identify as H

GOLDEN = H.DATA / "identify_golden.json.gz"
BEFORE_ISSUE11: tuple[tuple[str, str, object], ...] = (
    ("engine.pipeline.segment", "QUIET_FRAME_GATE", False),  # no quiet-stretch gate
    ("engine.pipeline.linking", "UNIT_MAX_SECONDS", 30.0),
    ("engine.pipeline.linking", "CUT_GAP_SECONDS", 0.0),  # runs not cut at short pauses
    ("engine.pipeline.clustering", "MISFIT_MEMBERSHIP", 0.0),  # no unit scores under 0
    ("engine.pipeline.turns", "MIN_GAP_SECONDS", 0.1),
    ("engine.pipeline.embedding", "EMBED_SECONDS", 3.0),  # all of a unit's 3 s stretch
)
"""``(module, constant, value)``: the pipeline constants that issue 11's accuracy work
added or changed, at the values the golden file was recorded with (the golden test pins
them; ``bench/bench_identify.py --baseline issue11`` runs with them)."""
NAMES = (
    "standard",
    "standard_empty_library",
    "standard_single_model",
    "standard_two_speakers",
    "pyannote_sample",
    "calib_library",
    "tiled_150s",
)


def _library(encoder: Any, big: bool) -> dict[str, Any]:
    from engine.voiceprint import Voiceprint

    lib = {
        name: Voiceprint(encoder.embed(H.clip(spk, "enroll")[None])[0], encoder.model_id)
        for name, spk in (("alice", "A"), ("bob", "B"))
    }
    if big:
        for name, (enr, _test) in H.calib_speakers().items():
            lib[name] = Voiceprint(encoder.embed(enr[None])[0], encoder.model_id)
    return lib


def _calib_conversation() -> np.ndarray:
    """Three calib speakers, A, and the never-enrolled D, with silences between."""
    calib = H.calib_speakers()
    rng = np.random.default_rng(11)
    pieces = [calib["cards"][1], H.clip("A", "test", 0), calib["chan3"][1][: 8 * H.SR],
              H.clip("D", "", 0), calib["forever"][1], H.clip("A", "test", 1)]
    out = []
    for p in pieces:
        out.append(np.zeros(int(rng.uniform(0.4, 1.2) * H.SR), np.float32))
        out.append(p)
    out.append(np.zeros(H.SR, np.float32))
    x = np.concatenate(out)
    return (x + rng.normal(0, 10 ** (-70 / 20), x.shape[0])).astype(np.float32)


def cases(encoder: Any) -> dict[str, Callable[..., Any]]:
    """Named runs: ``name -> fn(identify) -> IdentificationResult``."""
    from engine.audio import Audio, load_audio

    lib = _library(encoder, big=False)
    big = _library(encoder, big=True)
    std = Audio(H.standard_conversation().samples[None])
    tiled, _ = H.tiled_speech(150, seed=3)
    return {
        "standard": lambda ident: ident(std, lib, encoder=encoder),
        "standard_empty_library": lambda ident: ident(std, {}, encoder=encoder),
        "standard_single_model": lambda ident: ident(
            std, lib, encoder=encoder, diarization_encoder=encoder
        ),
        "standard_two_speakers": lambda ident: ident(std, lib, encoder=encoder, num_speakers=2),
        "pyannote_sample": lambda ident: ident(
            load_audio(H.DATA / "pyannote_sample.wav"), lib, encoder=encoder
        ),
        "calib_library": lambda ident: ident(
            Audio(_calib_conversation()[None]), big, encoder=encoder, resolution=0.05
        ),
        "tiled_150s": lambda ident: ident(Audio(tiled[None]), lib, encoder=encoder),
    }


def _track(t: Any) -> Any:
    if t is None:
        return None
    return {"start": t.start, "step": t.step, "values": np.asarray(t.values).round(3).tolist()}


def snapshot(r: Any) -> dict[str, Any]:
    """A JSON-able record of everything an :class:`IdentificationResult` decides."""
    return {
        "turns": [[t.start, t.end, t.speaker, t.score, t.cluster] for t in r.turns],
        "clusters": [
            {
                "label": c.label,
                "speaker": c.speaker,
                "score": c.score,
                "duration": c.duration,
                "matches": [[m, s] for m, s in c.matches],
                "centroid": np.asarray(c.centroid).round(5).tolist(),
            }
            for c in r.clusters
        ],
        "confidence": _track(r.confidence),
        "speaker_curves": _track(r.speaker_curves),
        "speaker_ids": list(r.speaker_ids),
        "duration": r.duration,
        "model_id": r.model_id,
        "num_speakers": r.num_speakers,
    }


def record(path: Path = GOLDEN) -> None:
    """Write the golden file with the decision rules the test uses (the legacy ones)."""
    from engine.encoder import default_encoder
    from engine.identify import identify
    from engine.pipeline.decision import LEGACY_DECISIONS

    enc = default_encoder()
    identify = functools.partial(identify, decisions=LEGACY_DECISIONS)
    out = {name: snapshot(fn(identify)) for name, fn in cases(enc).items()}
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(out, f)


def load(path: Path = GOLDEN) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return dict(json.load(f))


if __name__ == "__main__":
    record()
