"""The editing moves' model logic (gui.edit_model, gui.spectrogram): plain data, no Qt."""

from __future__ import annotations

import numpy as np
import pytest

from engine.segments import Turn
from gui import edit_model as em
from gui.review_model import ReviewError, ReviewModel
from gui.spectrogram import array_reader, spectrogram

A, B = "7", "UNKNOWN_00"


def model() -> ReviewModel:
    # A: 1-3, 6-8; B: 2.5-5 (overlaps A's first turn: overlapped speech is allowed)
    turns = [Turn(1.0, 3.0, A, 80.0, "SPEAKER_00"), Turn(2.5, 5.0, B, 0.0, "SPEAKER_01"),
             Turn(6.0, 8.0, A, 75.0, "SPEAKER_00")]
    m = ReviewModel(turns, duration=10.0)
    m.namer = {A: "Alice"}.get
    return m


@pytest.mark.parametrize(("text", "secs"), [
    ("12.5", 12.5), ("12.5 s", 12.5), (".5", 0.5), ("1:02.25", 62.25), ("0:07", 7.0),
    ("1:00:02.5", 3602.5), (" 3 ", 3.0),
])
def test_parse_time_reads_the_table_formats(text: str, secs: float) -> None:
    assert em.parse_time(text) == pytest.approx(secs)


@pytest.mark.parametrize("text", ["", "abc", "-1", "1:75", "1:60:00", "1,5", "1:2:3:4"])
def test_parse_time_rejects_what_is_not_a_time(text: str) -> None:
    with pytest.raises(ReviewError, match="not a time"):
        em.parse_time(text)


def test_parse_time_reads_what_the_table_writes() -> None:
    from gui.segment_table import fmt_time

    for t in (0.0, 1.23, 59.99, 61.5, 3599.99, 3725.25):
        assert em.fmt_t(t) == fmt_time(t)
        assert em.parse_time(fmt_time(t)) == pytest.approx(t, abs=0.006)


def test_snap_to_samples_when_zoomed_in_else_to_milliseconds() -> None:
    sr = 16000
    # 2 samples per pixel: the nearest sample
    assert em.snap_time(1.00004, sr, 2 / sr) == pytest.approx(16001 / sr)
    assert em.snap_time(1.00004, sr, 2 / sr) * sr == pytest.approx(round(1.00004 * sr))
    # 100 samples per pixel: the nearest millisecond
    assert em.snap_time(1.23456, sr, 100 / sr) == pytest.approx(1.235)
    assert em.snap_time(1.23456, 0, 1e-6) == pytest.approx(1.235)  # no rate: ms grid


def test_set_bounds_moves_one_turn_and_keeps_the_rest() -> None:
    m = model()
    e = em.set_bounds(m, 0, start=0.5)
    assert e.after[0] == Turn(0.5, 3.0, A, 80.0, "SPEAKER_00")
    assert e.after[1:] == m.turns[1:]
    m.apply(e)
    m.revert(e)
    assert m.turns == m.original


def test_set_bounds_resorts_and_index_after_follows_the_turn() -> None:
    m = model()
    e = em.set_bounds(m, 1, start=0.2)  # B now starts first
    assert e.after[0].speaker == B and e.after[0].start == 0.2
    assert em.index_after(e, 1) == 0


@pytest.mark.parametrize(("index", "start", "end", "why"), [
    (0, -0.5, None, "before the recording starts"),
    (2, None, 10.5, "past the end of the recording"),
    (0, 3.5, None, "must be before the end"),
    (0, None, 1.0, "must be before the end"),
    (0, None, 6.5, "overlap Alice's segment 0:06.00-0:08.00"),
    (2, 2.0, None, "overlap Alice's segment 0:01.00-0:03.00"),
])
def test_set_bounds_refuses_invalid_times_with_the_reason(index, start, end, why) -> None:
    m = model()
    with pytest.raises(ReviewError, match=why):
        em.set_bounds(m, index, start=start, end=end)
    # over another speaker's turn is fine (overlapped speech)
    assert em.set_bounds(m, 0, end=4.0).after[0].end == 4.0


def test_clamp_edge_stops_at_the_recording_the_other_bound_and_the_same_lane() -> None:
    m = model()
    assert em.clamp_edge(m, 0, "start", -3.0) == 0.0
    assert em.clamp_edge(m, 0, "start", 2.9999) == pytest.approx(3.0 - em.MIN_TURN_S)
    assert em.clamp_edge(m, 0, "end", 7.0) == 6.0  # A's next turn starts at 6
    assert em.clamp_edge(m, 2, "start", 2.0) == 3.0  # A's previous turn ends at 3
    assert em.clamp_edge(m, 2, "end", 99.0) == 10.0
    assert em.clamp_edge(m, 1, "end", 7.0) == 7.0  # B may overlap A
    e = em.move_edge(m, 0, "end", 7.0)
    assert e.after[0].end == 6.0


def test_resolve_speaker_library_review_or_new_label() -> None:
    m = model()
    lib = {A: "Alice", "9": "Bob"}
    assert em.resolve_speaker(m, "bob", lib) == ("9", None)
    assert em.resolve_speaker(m, "  Alice ", lib) == (A, None)
    assert em.resolve_speaker(m, "Unknown 1", lib) == (B, None)
    label, name = em.resolve_speaker(m, "Carol  Jones", lib)
    assert label == "NEW_01" and name == "Carol Jones"
    with pytest.raises(ReviewError, match="Type a speaker"):
        em.resolve_speaker(m, "  ", lib)
    assert [c.name for c in em.speaker_choices(m, lib)] == ["Alice", "Bob", "Unknown 1"]


def test_relabel_by_name_makes_a_label_unknown_to_the_library() -> None:
    m = model()
    e = em.relabel_by_name(m, 1, "Carol", {A: "Alice"})
    m.apply(e)
    assert m.turns[1].speaker == "NEW_01" and m.name("NEW_01") == "Carol"
    # typing that name again finds the same label
    e2 = em.relabel_by_name(m, 0, "carol", {A: "Alice"})
    assert e2.after[0].speaker == "NEW_01" and e2.after[1].speaker == "NEW_01"
    with pytest.raises(ReviewError, match="already"):
        em.relabel_by_name(m, 1, "Carol", {A: "Alice"})


def test_lane_label_and_step_turn() -> None:
    m = model()
    assert em.lane_label(m, 1) == A and em.lane_label(m, 2) == B
    with pytest.raises(ReviewError, match="no speaker 3"):
        em.lane_label(m, 3)
    assert em.step_turn(m, 0, 1) == 1 and em.step_turn(m, 2, 1) is None
    assert em.step_turn(m, 0, -1) is None and em.step_turn(m, 2, -1) == 1
    assert em.step_turn(m, None, 1, at=4.0) == 2  # first turn starting after 4 s
    assert em.step_turn(m, None, -1, at=4.0) == 1  # last turn starting before 4 s
    assert em.step_turn(ReviewModel([]), None, 1) is None


def test_readout_text() -> None:
    assert em.readout_text(None, 2.0) == "No selection | Playhead 0:02.00"
    assert em.readout_text((1.2, 3.4), 62.0) == \
        "Selection 0:01.20-0:03.40 (2.20 s) | Playhead 1:02.00"


# -- spectrogram ---------------------------------------------------------------------
SR = 16000


def tone(seconds: float, hz: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_spectrogram_of_the_visible_range_finds_the_tone() -> None:
    x = np.concatenate([tone(2.0, 1000.0), tone(2.0, 3000.0)])
    s = spectrogram(array_reader(x), SR, x.size, 0.5, 3.5, 300)
    assert s.db.shape == (300, 257) and s.freqs.shape == (257,)
    assert s.times[0] > 0.5 and s.times[-1] < 3.5 and np.all(np.diff(s.times) > 0)
    assert s.nyquist == pytest.approx(8000.0)
    peak_hz = s.freqs[np.argmax(s.db, axis=1)]
    first = s.times < 1.9
    last = s.times > 2.1
    assert np.all(np.abs(peak_hz[first] - 1000.0) <= 32)
    assert np.all(np.abs(peak_hz[last] - 3000.0) <= 32)
    assert not s.db.flags.writeable


def test_spectrogram_work_is_bounded_by_the_columns_not_the_range() -> None:
    x = tone(600.0, 440.0)  # 10 minutes
    read_samples: list[int] = []
    base = array_reader(x)

    def counting(s0: int, s1: int) -> np.ndarray:
        read_samples.append(s1 - s0)
        return base(s0, s1)

    s = spectrogram(counting, SR, x.size, 0.0, 600.0, 200)
    assert s.db.shape == (200, 257)
    assert sum(read_samples) <= 200 * 512  # only each column's own samples
    read_samples.clear()
    z = spectrogram(counting, SR, x.size, 10.0, 10.05, 800)  # zoomed in: 800 samples
    assert z.db.shape[0] == 800 // 128  # at most one column per quarter frame
    assert sum(read_samples) <= 800 + 512
    assert spectrogram(counting, SR, x.size, 700.0, 800.0, 100).db.shape == (0, 257)
