"""Never lose a correction, and the display tells the truth (issue 12), with the fake
engine (real audio, real library): data, not pixels."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import (  # noqa: E402
    FakeEngine,
    FakePrompts,
    FakeSoundDevice,
    fake_voiceprint,
    wait_for,
)

from engine.segments import Turn  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav"


def autosave_path() -> Path:
    from gui.autosave import autosave_path as where

    return where()


class RecordingPrompts(FakePrompts):
    """FakePrompts that also records the yes/no questions."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.confirms: list[str] = []

    def confirm(self, title: str, text: str) -> bool:
        self.confirms.append(text)
        return self.confirm_answer


@pytest.fixture(autouse=True)
def no_sound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(with_input=False))


def make_window(qtbot, prompts: FakePrompts | None = None) -> MainWindow:
    w = MainWindow(engine=FakeEngine(), prompts=prompts or RecordingPrompts())
    qtbot.addWidget(w)
    w.show()
    return w


def open_and_identify(qtbot, w: MainWindow, path: Path = SAMPLE) -> None:
    w.open_path(path)
    wait_for(qtbot, lambda: w.audio is not None and w.audio_path == str(path))
    w.run_identify()
    wait_for(qtbot, lambda: w.review is not None and not w.bridge.busy)


def edit(w: MainWindow) -> None:
    w.select_turns([0])
    assert w.relabel_selected("UNKNOWN_00")


@pytest.fixture
def win(qtbot) -> MainWindow:
    w = make_window(qtbot)
    w.engine.library.enroll("Alice", fake_voiceprint(1), 10.0, "a.wav")
    w.refresh_library()
    return w


# ---------------------------------------------------------------- never lose a correction
def test_title_marks_unsaved_edits_and_quit_asks(qtbot, win: MainWindow, tmp_path) -> None:
    open_and_identify(qtbot, win)
    assert "[*]" in win.windowTitle() and not win.isWindowModified()
    edit(win)
    assert win.isWindowModified() and win.is_modified()
    # Cancel: the window stays open, the edit is still there
    win.prompts.unsaved = ["cancel"]
    assert not win.close()
    assert win.isVisible() and win.prompts.unsaved_asked and win.review.turns[0].speaker == "UNKNOWN_00"
    # Save: asks for a file, writes the session, then closes
    sess = tmp_path / "kept.vpsession.json"
    win.prompts.unsaved, win.prompts.files = ["save"], [str(sess)]
    assert win.close()
    assert json.loads(sess.read_text())["turns"][0]["speaker"] == "UNKNOWN_00"


def test_opening_another_file_asks_and_cancel_keeps_the_edits(qtbot, win: MainWindow,
                                                               tmp_path) -> None:
    open_and_identify(qtbot, win)
    edit(win)
    other = tmp_path / "other.wav"
    other.write_bytes(SAMPLE.read_bytes())
    win.prompts.unsaved = ["cancel"]
    win.open_path(other)  # the path Open, Open recent and drag and drop all take
    assert len(win.prompts.unsaved_asked) == 1
    assert not win.bridge.busy and win.audio_path == str(SAMPLE) and win.is_modified()
    # from the Open recent menu: the same question; Discard opens the file
    win.settings.add_recent(other)
    win._fill_recent()
    act = next(a for a in win.recent_menu.actions() if a.text() == str(other.resolve()))
    win.prompts.unsaved = ["discard"]
    act.trigger()
    assert len(win.prompts.unsaved_asked) == 2
    wait_for(qtbot, lambda: win.audio_path == str(other.resolve()))
    assert win.review is None and not win.isWindowModified()


def test_closing_without_edits_does_not_ask(qtbot, win: MainWindow) -> None:
    open_and_identify(qtbot, win)
    assert win.close()
    assert win.prompts.unsaved_asked == []


def test_autosave_after_idle_is_private_and_restored_after_a_kill(qtbot, win: MainWindow,
                                                                  monkeypatch) -> None:
    open_and_identify(qtbot, win)
    win.autosaver.timer.setInterval(50)
    edit(win)
    win.select_turns([1])
    win.delete_selected()
    assert win.autosaver.timer.isActive() and win.autosaver.timer.isSingleShot()
    path = autosave_path()
    wait_for(qtbot, path.is_file)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
    edited = win.review.turns
    # the process is killed: no closeEvent; the next start offers the autosave
    win.hide()
    win.autosaver.timer.stop()
    prompts = RecordingPrompts(confirm_answer=True)
    w2 = make_window(qtbot, prompts)
    wait_for(qtbot, lambda: w2.review is not None and not w2.bridge.busy)
    assert any("unsaved review edits" in c for c in prompts.confirms)
    assert w2.review.turns == edited
    assert w2.is_modified() and w2.isWindowModified()
    assert "Restored" in w2.status_label.text() and "Press Identify" not in w2.status_label.text()
    # the undo history came back too: two undos return to the engine's turns
    assert w2.undo_stack.count() == 2
    w2.undo_stack.undo()
    w2.undo_stack.undo()
    assert w2.review.turns == w2.review.original
    # discarding at quit removes the autosave: the next start offers nothing
    w2.prompts.unsaved = ["discard"]
    assert w2.close()
    assert not path.exists()
    monkeypatch.undo()


def test_declining_the_restore_removes_the_autosave(qtbot, win: MainWindow) -> None:
    open_and_identify(qtbot, win)
    win.autosaver.timer.setInterval(10)
    edit(win)
    wait_for(qtbot, autosave_path().is_file)
    win.hide()
    win.autosaver.timer.stop()
    w2 = make_window(qtbot, RecordingPrompts(confirm_answer=False))
    wait_for(qtbot, lambda: bool(w2.prompts.confirms))
    assert w2.review is None and not autosave_path().exists()


def test_identify_again_asks_and_undo_brings_back_the_edited_result(qtbot, win: MainWindow) -> None:
    open_and_identify(qtbot, win)
    edit(win)
    edited = win.review.turns
    calls = len(win.engine.identify_calls)
    win.prompts.confirm_answer = False
    assert win.run_identify() is None
    assert len(win.engine.identify_calls) == calls and win.review.turns == edited
    assert "edit" in win.prompts.confirms[-1]
    win.prompts.confirm_answer = True
    old_review = win.review
    win.actions["identify"].trigger()  # Ctrl+R
    wait_for(qtbot, lambda: win.review is not old_review and not win.bridge.busy)
    assert win.review.turns == win.review.original != edited
    win.undo_stack.undo()  # back to the previous result, with its edit
    assert win.review.turns == edited
    win.undo_stack.undo()
    assert win.review.turns == win.review.original
    win.undo_stack.redo()
    win.undo_stack.redo()
    assert win.review.turns == win.review.original  # the new result again


def test_identify_again_without_edits_does_not_ask(qtbot, win: MainWindow) -> None:
    open_and_identify(qtbot, win)
    win.run_identify()
    wait_for(qtbot, lambda: len(win.engine.identify_calls) == 2 and not win.bridge.busy)
    assert win.prompts.confirms == []


def test_reopened_session_restores_curves_status_and_undo_history(qtbot, win: MainWindow,
                                                                  tmp_path) -> None:
    alice = str(win.speakers[0].id)

    def identify_with_curves(audio, vps, cancel, progress):
        from _helpers_gui import make_result

        from engine.segments import ScoreTrack

        r = make_result(audio.duration, [alice, "UNKNOWN_00"])
        n = r.confidence.num_frames
        curves = ScoreTrack(0.01, 0.02, np.vstack([np.linspace(0, 90, n)]).astype(np.float32))
        return type(r)(r.turns, r.confidence, curves, (alice,), (), r.duration)

    win.engine.identify_fn = identify_with_curves
    open_and_identify(qtbot, win)
    edit(win)
    win.select_turns([2])
    win.delete_selected()
    sess = tmp_path / "s.vpsession.json"
    assert win.save_session(str(sess))
    shown = win.review.turns
    w2 = make_window(qtbot)
    assert w2.open_session(str(sess))
    wait_for(qtbot, lambda: w2.review is not None and not w2.bridge.busy)
    assert w2.review.turns == shown
    assert len(w2.timeline.speaker_curves) == 1 and w2.timeline.speaker_curve_ids == [alice]
    _, y = w2.timeline.speaker_curves[0].getOriginalDataset()
    np.testing.assert_allclose(y, np.linspace(0, 90, len(y)), atol=0.06)
    assert "Press Identify" not in w2.status_label.text()
    assert "Reopened" in w2.status_label.text()
    assert not w2.is_modified()
    assert w2.undo_stack.count() == 2
    w2.undo_stack.undo()
    w2.undo_stack.undo()
    assert w2.review.turns == w2.review.original


# ---------------------------------------------------------------- the display tells the truth
def test_threshold_without_cluster_scores_says_a_rerun_is_needed(qtbot, win: MainWindow) -> None:
    open_and_identify(qtbot, win)  # the fake result has no per-cluster scores
    win.threshold.setValue(70)
    assert "Run Identify again" in win.status_label.text()


def test_merge_with_next_never_crosses_another_speaker(qtbot, win: MainWindow) -> None:
    open_and_identify(qtbot, win)  # alternating Alice / Unknown turns
    turns = win.review.turns
    win.select_turns([0])
    assert not win.actions["merge_next"].isEnabled()
    assert not win.merge_with_next()
    assert win.review.turns == turns
    # delete the other speaker's turn between: now the next turn in time is Alice's
    win.select_turns([1])
    win.delete_selected()
    win.select_turns([0])
    assert win.actions["merge_next"].isEnabled()
    assert win.merge_with_next()
    assert win.review.turns[0] == Turn(turns[0].start, turns[2].end, turns[0].speaker,
                                       turns[0].score, turns[0].cluster)


def test_status_bar_turn_count_follows_every_edit(qtbot, win: MainWindow) -> None:
    open_and_identify(qtbot, win)
    n = len(win.review.turns)
    assert win.count_label.text().startswith(f"{n} turns, 2 speakers")
    win.select_turns([0])
    win.delete_selected()
    assert win.count_label.text().startswith(f"{n - 1} turns")
    win.select_turns([0])
    win.timeline.set_playhead((win.review.turns[0].start + win.review.turns[0].end) / 2)
    assert win.split_at_playhead()
    assert win.count_label.text().startswith(f"{n} turns")
    win.undo_stack.undo()
    assert win.count_label.text().startswith(f"{n - 1} turns")
    rows = win.review.turns_of("UNKNOWN_00")
    win.select_turns(rows)
    win.relabel_selected(str(win.speakers[0].id))
    assert win.count_label.text() == f"{n - 1} turns, 1 speaker"


def test_rttm_export_names_the_recording(qtbot, win: MainWindow, tmp_path, monkeypatch) -> None:
    from gui.engine_facade import Engine

    monkeypatch.setattr(FakeEngine, "write_result", Engine.write_result)  # the real writer
    open_and_identify(qtbot, win)
    out = tmp_path / "exported_file.rttm"
    assert win.export_result(str(out))
    lines = out.read_text().splitlines()
    assert lines and all(ln.split()[:3] == ["SPEAKER", "pyannote_sample", "1"] for ln in lines)


def test_short_clip_draws_its_real_waveform(qtbot) -> None:
    from gui.peaks import PeakPyramid

    sr = 16000
    t = np.arange(int(0.2 * sr)) / sr
    x = (0.5 * np.sin(2 * np.pi * 50 * t)).astype(np.float32)  # 10 periods in 0.2 s
    p = PeakPyramid.from_array(x, sr)
    vx, vy = p.view(0.0, 0.2, 800)
    assert len(vx) >= 2 * 700  # one min/max pair per pixel, not ~25 ramps
    # each pixel's pair is the samples' own extremes there
    assert vy.max() == pytest.approx(x.max()) and vy.min() == pytest.approx(x.min())
    col = np.searchsorted(vx[0::2], 0.05)  # a crest of the sine at t = 5 ms + k * 20 ms
    i = int(round(vx[0::2][col] * sr))
    assert abs(vy[2 * col + 1] - x[max(i - 3, 0): i + 4].max()) < 0.02
    # the window draws that view
    w = MainWindow(engine=FakeEngine(), prompts=FakePrompts())
    qtbot.addWidget(w)
    w.show()
    w.set_audio(w.engine.audio_from_array(x, sr), None, None)
    w.timeline.redraw_waveform()
    _, wy = w.timeline.wave_curve.getOriginalDataset()
    assert len(wy) > 400


def test_file_dialogs_open_in_the_last_used_folder(qtbot, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    seen: list[str] = []
    folder = tmp_path / "recordings"
    folder.mkdir()
    pick = folder / "talk.wav"
    pick.write_bytes(SAMPLE.read_bytes())

    def fake_open(parent, title, start, filters):
        seen.append(start)
        return str(pick), ""

    def fake_save(parent, title, start, filters):
        seen.append(start)
        return "", ""

    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    # the enrollment's name question: answered "no name" (no modal dialog in a test)
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("", False)))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", False)))
    w = MainWindow(engine=FakeEngine())  # the real Prompts
    qtbot.addWidget(w)
    # the enrollment's own dialogs are answered "cancel" (no modal dialog in a test)
    monkeypatch.setattr(w.prompts, "ask_enroll", lambda *a, **k: None)
    monkeypatch.setattr(w.prompts, "error", lambda *a, **k: None)
    w.show()
    w.open_dialog()
    wait_for(qtbot, lambda: w.audio is not None)
    w.enroll_from_file_dialog()  # the next dialog starts where the last one chose
    assert seen[1] == str(folder)
    wait_for(qtbot, lambda: not w.bridge.busy)
    w.run_identify()
    wait_for(qtbot, lambda: w.review is not None and not w.bridge.busy)
    w.export_dialog()
    assert seen[2] == str(folder / "talk.json")
    # a new start remembers it; without a remembered folder, the recording's folder
    w2 = MainWindow(engine=FakeEngine())
    qtbot.addWidget(w2)
    assert w2.prompts._start() == str(folder)
    w2.settings.set("last_folder", None)
    w2.audio_path = str(pick)
    assert w2.prompts._start() == str(folder)


def test_empty_window_says_what_to_do_first(qtbot) -> None:
    w = make_window(qtbot)
    ph = w.timeline.placeholder
    assert ph.isVisible()
    assert "Open a recording" in ph.text() and "drop" in ph.text() and "enroll" in ph.text()
    assert "enroll a speaker" in w.status_label.text() or "no sound card" in w.status_label.text()
    w.open_path(SAMPLE)
    wait_for(qtbot, lambda: w.audio is not None)
    assert not ph.isVisible()


def test_zero_turns_on_a_short_clip_says_why(qtbot) -> None:
    from _helpers_gui import FakeResult

    from engine.segments import ScoreTrack

    w = make_window(qtbot)
    w.engine.identify_fn = lambda audio, vps, c, p: FakeResult(
        (), ScoreTrack(0.01, 0.02, np.zeros(20, np.float32)), duration=audio.duration)
    w.set_audio(w.engine.audio_from_array(np.zeros(6400, np.float32), 16000), None, None)
    w.run_identify()
    wait_for(qtbot, lambda: w.review is not None and not w.bridge.busy)
    text = w.status_label.text()
    assert text.startswith("0 turns") and "too short" in text and "0.4 s" in text


def test_wording_counts_capitals_and_again(qtbot, win: MainWindow) -> None:
    win.open_path(SAMPLE)
    wait_for(qtbot, lambda: win.audio is not None)
    assert not win.status_label.text()[0].islower()
    # enrolling before any run: no "again"
    win.prompts.texts = ["Bob"]
    win.enroll_spans([(0.0, 5.0)])
    wait_for(qtbot, lambda: len(win.speakers) == 2 and not win.bridge.busy)
    assert "again" not in win.status_label.text()
    win.run_identify()
    wait_for(qtbot, lambda: win.review is not None and not win.bridge.busy)
    assert not win.status_label.text()[0].islower()
    win.prompts.texts = ["Carol"]
    win.enroll_spans([(0.0, 5.0)])
    wait_for(qtbot, lambda: len(win.speakers) == 3 and not win.bridge.busy)
    assert "Run Identify (Ctrl+R) again" in win.status_label.text()
    # one speaker left after relabelling everyone: singular
    win.select_turns(list(range(len(win.review.turns))))
    win.relabel_selected(str(win.speakers[0].id))
    assert win.count_label.text().endswith(", 1 speaker")
    from gui.wording import plural, result_summary

    assert plural(1, "speaker") == "1 speaker" and plural(2, "speaker") == "2 speakers"
    assert result_summary(1, ["UNKNOWN_00"]) == "1 turn, 1 speaker (1 unknown)"
