"""The display tells the truth, with the REAL engine on the shipped two-speaker
recording (one of its speakers enrolled): the threshold re-decides names from the
result's own scores, the curve agrees with the table, and enrolling the unknown
speaker gives their turns that speaker's real score."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import FakePrompts, FakeSoundDevice, wait_for  # noqa: E402

from engine.segments import is_unknown  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav"
# speaker90 alone 10.57-14.49 and 18.59-21.49 in pyannote_sample.rttm
NINETY = [(10.6, 14.45), (18.65, 21.45)]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real() -> dict:
    """One real enrollment and identification, shared by the tests (they take ~1 min)."""
    from engine import audio as A
    from engine import identify
    from engine.enroll import extract_voiceprint

    au = A.load_audio(str(SAMPLE), limits=A.IDENTIFICATION_LIMITS, channel_mode="mix")
    x, sr = au.mono(), A.SAMPLE_RATE
    clip = np.concatenate([x[int(a * sr): int(b * sr)] for a, b in NINETY]).astype(np.float32)
    enr = extract_voiceprint(A.load_audio(clip, limits=A.VOICEPRINT_LIMITS, sample_rate=sr))
    # the first speaker a fresh library enrolls gets id 1
    result = identify.identify(au, {"1": enr.voiceprint})
    return {"voiceprint": enr.voiceprint, "result": result}


@pytest.fixture
def win(qtbot, monkeypatch, real):
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(with_input=False))
    from gui.main_window import MainWindow

    w = MainWindow(prompts=FakePrompts())
    qtbot.addWidget(w)
    w.show()
    info = w.engine.library.enroll("Ninety", real["voiceprint"], 6.6, "pyannote_sample.wav")
    assert str(info.id) == "1"
    w.refresh_library()
    w.open_path(SAMPLE)
    wait_for(qtbot, lambda: w.audio is not None, 30)
    w.threshold.blockSignals(True)
    w.threshold.setValue(50)
    w.threshold.blockSignals(False)
    w.set_result(real["result"])
    return w


def test_decide_at_the_run_threshold_reproduces_the_engine(real) -> None:
    from engine.calibration import DEFAULT_THRESHOLD
    from engine.decide import decide

    r = real["result"]
    assert decide(r, DEFAULT_THRESHOLD).turns == r.turns
    assert {t.speaker for t in r.turns} == {"1", "UNKNOWN_00"}


def test_moving_the_threshold_re_decides_the_names_at_once(qtbot, win) -> None:
    r = win.result
    named = next(c for c in r.clusters if c.speaker == "1")
    before = win.review.turns
    calls = len(win.bridge.last)
    # the spin box: above the named cluster's score, it becomes unknown
    win.threshold.setValue(np.ceil(named.score) + 0.0)
    assert all(is_unknown(t.speaker) for t in win.review.turns)
    assert win.timeline.lanes.labels == ["UNKNOWN_00", "UNKNOWN_01"]
    assert {win.table_model.row_values(i)[3] for i in range(win.table_model.rowCount())} == \
        {"Unknown 1", "Unknown 2"}
    assert len(win.bridge.last) == calls and not win.bridge.is_running("identify")  # no re-run
    # the draggable line: back below, the name returns; consecutive moves are one undo step
    win.timeline.thresholdMoved.emit(40.0)
    assert win.threshold.value() == 40
    assert win.review.turns == before
    win.threshold.setValue(np.ceil(named.score))
    win.undo_stack.undo()
    assert win.review.turns == before


def test_curve_agrees_with_the_table_and_explains_itself(win) -> None:
    cx, cy = win.timeline.conf_curve.getOriginalDataset()
    turns = win.review.turns
    for i, t in enumerate(turns):
        others = [u for j, u in enumerate(turns) if j != i]
        frames = [k for k in range(*np.searchsorted(cx, [t.start, t.end]))
                  if not any(u.start <= cx[k] <= u.end for u in others)]
        if len(frames) < 5:
            continue
        row = win.table_model.row_values(i)
        v = cy[frames]
        # never above the table's score; below it only where the engine doubted the stretch
        assert v.max() <= row[4] + 1e-3, (t, v.max(), row)
        raw = np.asarray(win.review.confidence.values, np.float64)[frames]
        assert np.all(v >= np.minimum(raw, row[4]) - 1e-3)
    legend = [lab.text for _, lab in win.timeline.legend.items]
    assert any("black" in s and "table" in s for s in legend)
    assert any("faint" in s and "enrolled speaker" in s for s in legend)
    t = next(u for u in turns if not is_unknown(u.speaker))
    text = win.timeline.hover_text((t.start + t.end) / 2)
    assert "Ninety" in text and f"score {t.score:.0f}" in text and "similarity to Ninety" in text


def test_enrolling_the_unknown_speaker_gives_their_real_score(qtbot, win) -> None:
    unknown = next(i for i, t in enumerate(win.review.turns) if is_unknown(t.speaker))
    cluster = win.review.turns[unknown].cluster
    old_score = win.review.turns[unknown].score
    win.select_turns([unknown])
    win.prompts.texts = ["Ninety-one"]
    win.enroll_unknown()
    wait_for(qtbot, lambda: (len(win.speakers) == 2 and not win.bridge.busy)
             or bool(win.prompts.errors), 180)
    assert not win.prompts.errors
    new = next(s for s in win.speakers if s.name == "Ninety-one")
    rows = win.review.turns_of(str(new.id))
    assert rows and all(win.review.turns[i].score > old_score + 10 for i in rows)
    from engine.decide import score_clusters

    vp = win.engine.library.voiceprints()[str(new.id)]
    expect = score_clusters(win.result, vp)[cluster]
    assert rows and all(win.review.turns[i].score == expect for i in rows)
    assert expect > 70
    assert {win.table_model.row_values(i)[4] for i in rows} == {expect}
    # the curve follows: over those turns it shows the new score, not the old one
    cx, cy = win.timeline.conf_curve.getOriginalDataset()
    t = max((win.review.turns[i] for i in rows), key=lambda u: u.duration)
    seg = cy[np.searchsorted(cx, t.start + 0.1): np.searchsorted(cx, t.end - 0.1)]
    assert seg.max() > old_score + 10 and seg.max() <= expect + 1e-3
