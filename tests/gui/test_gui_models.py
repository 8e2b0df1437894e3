"""Qt-free parts of the GUI: the peak pyramid and the review model."""

from __future__ import annotations

import numpy as np
import pytest

from engine.segments import ScoreTrack, Turn
from gui.peaks import PeakPyramid
from gui.review_model import ReviewError, ReviewModel


def test_pyramid_view_is_bounded_and_keeps_extremes() -> None:
    rng = np.random.default_rng(0)
    rate = 16000
    x = (0.1 * rng.standard_normal(rate * 600)).astype(np.float32)  # 10 min
    x[1_234_567] = 0.97
    x[7_654_321] = -0.93
    p = PeakPyramid.from_array(x, rate)
    assert p.duration == pytest.approx(600.0)
    assert len(p.levels) >= 3 and p.levels[-1][0].size <= 1024
    xs, ys = p.view(0, 600, 1000)
    assert 2 * 1000 <= len(xs) <= 8 * 1000 + 16  # drawing cost bounded by the width
    assert ys.max() == pytest.approx(0.97) and ys.min() == pytest.approx(-0.93)
    assert xs.min() >= 0 and xs.max() <= 600
    # a window that contains only the positive spike shows it, and ranges are clipped
    t = 1_234_567 / rate
    xs, ys = p.view(t - 1, t + 1, 800)
    assert ys.max() == pytest.approx(0.97)
    assert xs.min() >= t - 1.1 and xs.max() <= t + 1.1
    # zoomed far in: raw samples
    xs, ys = p.view(t - 0.01, t + 0.01, 400)
    np.testing.assert_array_equal(ys, x[int((t - 0.01) * rate) - 1 : int(np.ceil((t + 0.01) * rate)) + 1])


def test_pyramid_from_blocks_matches_from_array() -> None:
    x = np.sin(np.arange(100_003) * 0.001).astype(np.float32)
    a = PeakPyramid.from_array(x, 16000)
    b = PeakPyramid.from_blocks([x[:777], x[777:50_000], x[50_000:]], 16000)
    assert a.num_samples == b.num_samples == x.size
    for (lo_a, hi_a), (lo_b, hi_b) in zip(a.levels, b.levels, strict=True):
        np.testing.assert_array_equal(lo_a, lo_b)
        np.testing.assert_array_equal(hi_a, hi_b)
    assert PeakPyramid.from_array(np.zeros(0, np.float32), 16000).view(0, 1, 100)[0].size == 0


def _model() -> ReviewModel:
    turns = [Turn(0, 2, "1", 80, "SPEAKER_00"), Turn(2, 4, "UNKNOWN_00", 0, "SPEAKER_01"),
             Turn(4, 6, "1", 75, "SPEAKER_00"), Turn(6, 8, "UNKNOWN_00", 0, "SPEAKER_01")]
    conf = ScoreTrack(0.0, 0.02, np.linspace(0, 100, 400, dtype=np.float32))
    return ReviewModel(turns, confidence=conf, duration=8.0)


def test_review_edits_apply_and_revert_exactly() -> None:
    m = _model()
    orig = m.turns
    e = m.relabel_cluster("SPEAKER_01", m.new_label(), name="Zoe")
    m.apply(e)
    assert [t.speaker for t in m.turns] == ["1", "NEW_01", "1", "NEW_01"]
    assert m.name("NEW_01") == "Zoe"
    m.revert(e)
    assert m.turns == orig and "NEW_01" not in m.names
    s = m.split(0, 0.5)
    m.apply(s)
    assert [(t.start, t.end) for t in m.turns[:2]] == [(0, 0.5), (0.5, 2)]
    mg = m.merge_with_next(0)
    m.apply(mg)
    assert m.turns[0] == Turn(0, 2, "1", 80, "SPEAKER_00")
    # merge with next never crosses another speaker's turn (turn 1 is Unknown 1's)
    assert not m.can_merge_with_next(0)
    with pytest.raises(ReviewError, match="Unknown 1's"):
        m.merge_with_next(0)
    assert len(m.turns) == 4
    with pytest.raises(ReviewError):
        m.split(0, 7.0)
    with pytest.raises(ReviewError):
        m.relabel([], "1")
    with pytest.raises(ReviewError):
        m.merge_with_next(len(m.turns) - 1)
    assert m.next_unknown_label() == "UNKNOWN_01"
    assert m.labels() == ["1", "UNKNOWN_00"]
    assert m.name("UNKNOWN_00") == "Unknown 1"


def test_session_round_trip_and_damaged_files(tmp_path) -> None:
    m = _model()
    m.apply(m.relabel([1], "1"))
    p = tmp_path / "s.json"
    m.save_session(p, "/x/a.wav")
    m2, audio = ReviewModel.load_session(p)
    assert audio == "/x/a.wav"
    assert m2.turns == m.turns and m2.original == m.original and m2.history == m.history
    np.testing.assert_allclose(m2.confidence.values, m.confidence.values, atol=0.005)
    p.write_text('{"format": "something else"}')
    with pytest.raises(ReviewError, match="not a Voiceprint Studio session"):
        ReviewModel.load_session(p)
    p.write_text('{"format": "voiceprint-studio-session", "version": 1, "original": [{}]}')
    with pytest.raises(ReviewError, match="damaged"):
        ReviewModel.load_session(p)
    p.write_text("not json")
    with pytest.raises(ReviewError):
        ReviewModel.load_session(p)
