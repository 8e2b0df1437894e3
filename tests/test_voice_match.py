"""engine.voice_match: is a new recording the voice of the speaker it is added to?"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.calibration import DEFAULT_THRESHOLD, cosine_to_score
from engine.errors import ModelMismatch, NotFound, VoiceMismatch
from engine.library import Library
from engine.voice_match import speaker_match, voice_match
from tests._helpers_library import vp, vp_of


@pytest.fixture
def lib(vp_home: Path):
    library = Library()
    yield library
    library.close()


def test_same_and_other_voice(lib: Library) -> None:
    rng = np.random.default_rng(3)
    base = vp(rng)
    lib.enroll("Dave", base, 8.0, "dave.wav")
    close = vp_of(base.vector + 0.3 * vp(rng).vector)
    same = speaker_match(lib, "Dave", close)
    assert same is not None and same.matches and same.speaker == "Dave"
    assert same.score == pytest.approx(cosine_to_score(float(base.vector @ close.vector)))
    other = speaker_match(lib, "dave", vp(rng))  # names ignore ASCII case
    assert other is not None and not other.matches and other.threshold == DEFAULT_THRESHOLD
    assert f"score {other.score:.0f}" in other.message()
    err = other.error()
    assert isinstance(err, VoiceMismatch) and err.type == "resource.conflict"
    assert err.detail == "voiceprint.speaker-mismatch" and err.context["speaker"] == "Dave"


def test_nothing_to_compare_with(lib: Library) -> None:
    rng = np.random.default_rng(4)
    assert speaker_match(lib, "Nobody", vp(rng)) is None  # a new speaker
    empty = lib.add_speaker("Empty")
    assert speaker_match(lib, empty.id, vp(rng)) is None
    with pytest.raises(NotFound):
        speaker_match(lib, 999, vp(rng))


def test_models_must_agree() -> None:
    rng = np.random.default_rng(5)
    with pytest.raises(ModelMismatch):
        voice_match(vp(rng), vp(rng, model="other@1"))
