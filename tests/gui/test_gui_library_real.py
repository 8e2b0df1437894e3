"""Issue 12 with the REAL engine: two different people do not silently go into one
speaker, and a clean stretch of speech is not reported as noise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import FakePrompts, FakeSoundDevice, wait_for  # noqa: E402

from gui.enroll_dialog import EnrollChoice  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"

pytestmark = pytest.mark.slow


@pytest.fixture
def win(qtbot, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(with_input=False))
    from gui.main_window import MainWindow

    w = MainWindow(prompts=FakePrompts())
    qtbot.addWidget(w)
    return w


def test_another_persons_recording_is_not_added_to_dave_without_a_word(qtbot, win) -> None:
    """calib_forever.ogg and calib_chan3.ogg are two different people."""
    win.prompts.enroll_choices = [EnrollChoice("Dave")]
    win.enroll_from_file(str(DATA / "calib_forever.ogg"))
    wait_for(qtbot, lambda: len(win.speakers) == 1 or bool(win.prompts.errors), 180)
    assert not win.prompts.errors
    dave = win.speakers[0]
    win.prompts.enroll_choices = [EnrollChoice("Dave", int(dave.id))]
    win.prompts.confirm_answer = False
    win.enroll_from_file(str(DATA / "calib_chan3.ogg"))
    wait_for(qtbot, lambda: bool(win.prompts.confirms) or bool(win.prompts.errors), 180)
    assert not win.prompts.errors
    _title, text = win.prompts.confirms[-1]
    assert "does not sound like 'Dave'" in text and "score" in text
    score = float(text.split("score ")[1].split(" ")[0])
    assert score < 50
    wait_for(qtbot, lambda: not win.bridge.busy, 180)  # the warm-up may still run under load
    assert win.engine.library.get(int(dave.id)).num_enrollments == 1  # nothing written
    (only,) = win.engine.library.enrollments(int(dave.id))
    assert only.source == "calib_forever.ogg" and only.has_clip


def test_clear_speech_is_reported_good_not_noisy(qtbot, win) -> None:
    """The pyannote sample's 10.6-14.7 s is one clear voice (was "too-noisy, SNR -30 dB")."""
    win.open_path(DATA / "pyannote_sample.wav")
    wait_for(qtbot, lambda: win.audio is not None, 30)
    win.prompts.enroll_choices = [None]  # look at the report, then cancel
    win.enroll_spans([(10.6, 14.7)])
    wait_for(qtbot, lambda: bool(win.prompts.enroll_asks) or bool(win.prompts.errors), 180)
    assert not win.prompts.errors
    report = win.prompts.asked[-1]
    assert report.startswith("Good"), report
    assert "noisy" not in report.lower() and "-30" not in report
    assert win.speakers == []
