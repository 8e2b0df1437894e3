"""Errors, data home and the frozen data model that crosses to the GUI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from engine import paths
from engine.errors import SizeLimitExceeded, VPError
from engine.segments import ScoreTrack, Segment, Turn, is_unknown, unknown_label


def test_error_to_dict_is_json_ready() -> None:
    err = SizeLimitExceeded(
        "File is larger than 1 GiB.",
        location="big.wav",
        detail="media.too-large",
        context={"file_size": 2, "max_file_size": 1},
    )
    d = json.loads(json.dumps(err.to_dict()))
    assert d["type"] == "request.size-limit-exceeded"
    assert d["detail"] == "media.too-large" and d["context"]["max_file_size"] == 1
    assert isinstance(err, VPError) and "big.wav" in str(err)


def test_data_home_follows_env(vp_home: Path) -> None:
    assert paths.data_home() == vp_home and vp_home.is_dir()
    assert paths.library_path().parent == vp_home


def test_set_data_home(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    assert paths.set_data_home(target) == target.resolve()
    assert paths.settings_path().parent == target.resolve()


def test_score_track_times_are_computed_not_accumulated() -> None:
    n = 24 * 3600 * 50  # 24 h at 0.02 s
    track = ScoreTrack(0.01, 0.02, np.zeros(n, dtype=np.float32))
    t = track.times()
    assert t[-1] == pytest.approx(0.01 + (n - 1) * 0.02, abs=1e-9)
    assert not track.values.flags.writeable
    assert track.index(3600.0) == round((3600.0 - 0.01) / 0.02)


def test_segments_and_turns_are_frozen() -> None:
    turn = Turn(1.0, 2.5, "UNKNOWN_00", 12.0, "SPEAKER_00")
    with pytest.raises(dataclasses.FrozenInstanceError):
        turn.start = 0.0  # type: ignore[misc]
    assert turn.segment == Segment(1.0, 2.5) and turn.duration == 1.5
    with pytest.raises(ValueError):
        Segment(2.0, 1.0)
    assert unknown_label(3) == "UNKNOWN_03" and is_unknown("UNKNOWN_03")
