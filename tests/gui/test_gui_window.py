"""The main window with a fake engine (real audio decoding and library): data, not pixels."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import (  # noqa: E402
    FakeEngine,
    FakePrompts,
    fake_voiceprint,
    make_result,
    wait_for,
)

from engine.segments import Turn  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav"


def open_sample(qtbot, w: MainWindow) -> None:
    w.open_path(SAMPLE)
    wait_for(qtbot, lambda: w.audio is not None)


def identify(qtbot, w: MainWindow) -> None:
    w.run_identify()
    wait_for(qtbot, lambda: w.review is not None and not w.bridge.busy)


def test_window_has_docks_menus_and_shortcuts(win: MainWindow) -> None:
    titles = [m.title().replace("&", "") for m in win.menus.values()]
    assert titles == ["File", "Edit", "Speakers", "Run", "Playback", "View", "Help"]
    assert win.library_dock.isVisible() and win.table_dock.isVisible()
    assert win.dockWidgetArea(win.library_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert win.dockWidgetArea(win.table_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    sc = {k: a.shortcut() for k, a in win.actions.items()}
    assert sc["open"] == QKeySequence(QKeySequence.StandardKey.Open)
    assert sc["undo"] == QKeySequence("Ctrl+Z")
    assert sc["redo"] == QKeySequence("Ctrl+Shift+Z")
    assert sc["identify"] == QKeySequence("Ctrl+R")
    assert sc["play"] == QKeySequence("Space")
    assert sc["cancel"] == QKeySequence("Esc")
    # nothing to identify or export before a file is open
    assert not win.actions["identify"].isEnabled()
    assert not win.actions["export"].isEnabled()
    # no input device in the fake: recording disabled, with the reason shown
    assert not win.actions["record"].isEnabled()
    assert "no sound card" in win.actions["record"].toolTip()
    assert "no sound card" in win.status_label.text()


def test_record_disabled_without_portaudio(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    import gui.audio_devices as ad

    def broken(name: str):
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(ad.importlib, "import_module", broken)
    w = MainWindow(engine=FakeEngine(), prompts=FakePrompts())
    qtbot.addWidget(w)
    assert not w.actions["record"].isEnabled()
    assert not w.actions["enroll_record"].isEnabled()
    assert "PortAudio" in w.actions["record"].toolTip()
    assert not w.player.available and "PortAudio" in w.player.reason
    assert w.record() is None  # refuses politely instead of failing


def test_open_file_draws_waveform_and_remembers_it(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)
    assert win.audio.duration == pytest.approx(30.0, abs=0.01)
    assert win.pyramid.num_samples == win.audio.num_samples
    x, y = win.timeline.wave_curve.getData()
    assert x is not None and len(x) > 100
    assert x.min() >= 0.0 and x.max() <= 30.0 + 1e-6
    peak = float(np.max(np.abs(win.audio.read_frames(0, win.audio.num_samples))))
    assert float(np.max(np.abs(y))) == pytest.approx(peak, rel=1e-5)  # envelope keeps the peak
    assert win.actions["identify"].isEnabled()
    assert win.settings.recent_files[0] == str(SAMPLE.resolve())
    saved = json.loads(win.settings.path.read_text())
    assert saved["recent_files"][0] == str(SAMPLE.resolve())


def test_drop_a_file_opens_it(qtbot, win: MainWindow) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SAMPLE))])
    ev = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.dropEvent(ev)
    wait_for(qtbot, lambda: win.audio is not None)
    assert win.audio_path == str(SAMPLE)


def test_identify_shows_lanes_curve_and_table(qtbot, win: MainWindow) -> None:
    alice = win.engine.library.enroll("Alice", fake_voiceprint(1), 10.0, "a.wav")
    win.refresh_library()
    open_sample(qtbot, win)
    win.num_speakers.setValue(2)
    win.threshold.setValue(61)
    identify(qtbot, win)

    call = win.engine.identify_calls[-1]
    assert call["num_speakers"] == 2 and call["threshold"] == 61.0
    assert set(call["voiceprints"]) == {str(alice.id)}
    result = win.result
    n = len(result.turns)
    assert n == 15
    # lanes: one per speaker, named speakers first; one rect per turn in its lane
    assert win.timeline.lanes.labels == [str(alice.id), "UNKNOWN_00"]
    rects = win.timeline.lanes.rects()
    assert len(rects) == n
    for i, r in rects:
        t = win.review.turns[i]
        assert r.left() == pytest.approx(t.start) and r.right() == pytest.approx(t.end)
        assert int(r.top()) == win.timeline.lanes.lane_of(t.speaker)
    ticks = win.timeline.lanes_plot.getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == ["Alice", "Unknown 1"]
    # confidence curve = the result's track where a turn is, capped at the table's score
    cx, cy = win.timeline.conf_curve.getData()
    np.testing.assert_allclose(cx, result.confidence.times())
    for t in win.review.turns:
        i0, i1 = np.searchsorted(cx, [t.start + 0.05, t.end - 0.05])
        np.testing.assert_allclose(cy[i0:i1], np.minimum(result.confidence.values[i0:i1], t.score),
                                   rtol=1e-5)
    assert win.timeline.threshold_line.value() == 61
    # table rows match turns, with names
    m = win.table_model
    assert m.rowCount() == n
    for row in (0, 1, n - 1):
        t = win.review.turns[row]
        start, end, dur, name, score = m.row_values(row)
        assert (start, end, score) == (t.start, t.end, t.score)
        assert dur == pytest.approx(t.end - t.start)
        assert name == ("Alice" if t.speaker == str(alice.id) else "Unknown 1")
    assert win.actions["export"].isEnabled()


def test_relabel_split_merge_with_undo_redo(qtbot, win: MainWindow) -> None:
    bob = win.engine.library.enroll("Bob", fake_voiceprint(2), 8.0, "b.wav")
    win.refresh_library()
    open_sample(qtbot, win)
    identify(qtbot, win)
    original = win.review.turns
    unknown_rows = win.review.turns_of("UNKNOWN_00")
    win.select_turns([unknown_rows[0]])
    assert win.relabel_selected(str(bob.id))
    assert win.review.turns[unknown_rows[0]].speaker == str(bob.id)
    assert win.table_model.row_values(unknown_rows[0])[3] == "Bob"
    win.undo_stack.undo()
    assert win.review.turns == original
    win.undo_stack.redo()
    assert win.review.turns[unknown_rows[0]].speaker == str(bob.id)
    win.undo_stack.undo()

    # relabel the whole cluster as a new (not enrolled) speaker
    win.select_turns([unknown_rows[1]])
    assert win.relabel_cluster(win.review.new_label(), "Carol")
    assert win.review.turns_of("UNKNOWN_00") == []
    assert {win.name_of(win.review.turns[i].speaker) for i in unknown_rows} == {"Carol"}
    win.undo_stack.undo()
    assert win.review.turns == original

    # split at the playhead, then merge back
    t0 = win.review.turns[0]
    win.select_turns([0])
    win.timeline.set_playhead(t0.start + 0.5)
    assert win.split_at_playhead()
    assert len(win.review.turns) == len(original) + 1
    assert win.review.turns[0].end == pytest.approx(t0.start + 0.5)
    assert win.review.turns[1].start == pytest.approx(t0.start + 0.5)
    win.select_turns([0])
    assert win.merge_with_next()
    assert win.review.turns[0] == t0
    win.undo_stack.undo()
    win.undo_stack.undo()
    assert win.review.turns == original
    # the playhead outside the segment: refused with a message, nothing changes
    win.select_turns([0])
    win.timeline.set_playhead(t0.end + 1.0)
    assert not win.split_at_playhead()
    assert "not inside" in win.status_label.text()
    assert win.review.turns == original
    # delete via the action (the Delete key)
    win.actions["delete"].trigger()
    assert len(win.review.turns) == len(original) - 1
    win.actions["undo"].trigger()
    assert win.review.turns == original


def test_enroll_from_selection_adds_a_speaker(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)
    win.prompts.texts = ["Dana"]
    win.timeline.set_selection(2.0, 7.0)
    win.enroll_from_selection()
    wait_for(qtbot, lambda: len(win.speakers) == 1)
    info = win.speakers[0]
    assert info.name == "Dana" and info.num_enrollments == 1
    assert info.seconds == pytest.approx(5.0, abs=0.01)
    clip = win.engine.extracted[-1]
    assert clip.duration == pytest.approx(5.0, abs=0.01)
    np.testing.assert_allclose(clip.mono(), win.audio.read_frames(0, win.audio.num_samples)[32000:112000], atol=1e-6)
    assert "Net speech: 5.0 s" in win.prompts.asked[-1]  # the quality report was shown
    assert win.library_panel.list.count() == 1
    assert "Dana" in win.library_panel.list.item(0).text()


def test_enroll_refuses_too_little_speech(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)
    win.prompts.texts = ["Eve"]
    win.timeline.set_selection(2.0, 3.0)
    win.enroll_from_selection()
    wait_for(qtbot, lambda: bool(win.prompts.errors))
    title, text = win.prompts.errors[-1]
    assert "Too little speech" in text and "3.0 s" in text
    assert win.speakers == []
    assert win.prompts.texts == ["Eve"]  # the name was never asked


def test_enroll_unknown_speaker_relabels_its_turns(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)
    identify(qtbot, win)
    rows = win.review.turns_of("UNKNOWN_00")
    win.select_turns([rows[0]])
    assert win.actions["enroll_unknown"].isEnabled()
    win.prompts.texts = ["Frank"]
    win.enroll_unknown()
    wait_for(qtbot, lambda: len(win.speakers) == 1)
    frank = win.speakers[0]
    assert win.review.turns_of("UNKNOWN_00") == []
    assert win.review.turns_of(str(frank.id)) == rows
    # its voiceprint came from the unknown's turns (1.5 s each, 15 turns: capped at 30 s)
    assert win.engine.extracted[-1].duration == pytest.approx(1.5 * len(rows), abs=0.01)
    win.undo_stack.undo()
    assert win.review.turns_of("UNKNOWN_00") == rows


def test_cancel_a_running_identification(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)
    started = threading.Event()

    def slow(audio, vps, cancel, progress):
        started.set()
        for i in range(2000):
            cancel.check()
            progress(i / 2000, "working")
            threading.Event().wait(0.005)
        return make_result(audio.duration, ["UNKNOWN_00"])

    win.engine.identify_fn = slow
    job = win.run_identify()
    assert started.wait(10)
    wait_for(qtbot, lambda: win.cancel_button.isVisible())
    win.actions["cancel"].trigger()
    wait_for(qtbot, lambda: "identify" in win.bridge.last)
    assert win.bridge.last["identify"].id == job
    assert win.bridge.last["identify"].state.value == "canceled"
    assert win.result is None and win.review is None
    assert "canceled" in win.status_label.text()
    wait_for(qtbot, lambda: not win.progress_bar.isVisible())


def test_a_new_run_supersedes_and_stale_results_are_dropped(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)
    release = threading.Event()
    calls = []

    def stubborn(audio, vps, cancel, progress):
        calls.append(1)
        if len(calls) == 1:
            release.wait(10)  # ignores its cancel token on purpose
            return make_result(audio.duration, ["UNKNOWN_00"])
        return make_result(audio.duration, ["UNKNOWN_00", "UNKNOWN_01"])

    win.engine.identify_fn = stubborn
    stale = []
    win.bridge.stale.connect(stale.append)
    first = win.run_identify()
    wait_for(qtbot, lambda: len(calls) == 1)
    second = win.run_identify()
    wait_for(qtbot, lambda: win.review is not None)
    assert win.review.labels() == ["UNKNOWN_00", "UNKNOWN_01"]
    release.set()
    wait_for(qtbot, lambda: len(stale) == 1)
    assert stale[0].id == first and first != second
    assert win.review.labels() == ["UNKNOWN_00", "UNKNOWN_01"]  # not replaced by the stale one


def test_failed_job_shows_the_typed_error(qtbot, win: MainWindow) -> None:
    from engine.errors import NoSpeech

    open_sample(qtbot, win)

    def fail(audio, vps, cancel, progress):
        raise NoSpeech("No speech was found in this recording.")

    win.engine.identify_fn = fail
    win.run_identify()
    wait_for(qtbot, lambda: bool(win.prompts.errors))
    assert "No speech was found" in win.prompts.errors[-1][1]
    assert win.bridge.last["identify"].error.type == "media.no-speech"


def test_bad_file_gives_a_clear_error(qtbot, win: MainWindow, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    win.open_path(bad)
    wait_for(qtbot, lambda: bool(win.prompts.errors))
    assert win.audio is None
    assert win.bridge.last["load"].error.type == "media.unreadable"


def test_export_and_session_round_trip(qtbot, win: MainWindow, tmp_path: Path) -> None:
    alice = win.engine.library.enroll("Alice", fake_voiceprint(1), 10.0, "a.wav")
    win.refresh_library()
    open_sample(qtbot, win)
    identify(qtbot, win)
    win.select_turns([1])
    win.relabel_selected(str(alice.id))
    out = tmp_path / "r.rttm"
    assert win.export_result(str(out))
    data = json.loads(out.read_text())
    assert data["fmt"] == "rttm"
    assert data["turns"][1][2] == "Alice" and data["turns"][0][2] == "Alice"
    assert data["turns"][3][2] == "Unknown_1"  # rttm: no spaces in names

    sess = tmp_path / "s.vpsession.json"
    assert win.save_session(str(sess))
    edited = win.review.turns
    w2 = MainWindow(engine=win.engine, prompts=FakePrompts())
    qtbot.addWidget(w2)
    assert w2.open_session(str(sess))
    wait_for(qtbot, lambda: w2.review is not None)
    assert w2.audio_path == str(SAMPLE)
    assert w2.review.turns == edited
    assert w2.review.original == win.review.original
    assert w2.review.history == ["Relabel segment as Alice"]
    np.testing.assert_allclose(w2.review.confidence.values, win.review.confidence.values,
                               atol=0.01)
    assert w2.table_model.rowCount() == len(edited)


def test_library_rename_delete_merge(qtbot, win: MainWindow, tmp_path: Path) -> None:
    lib = win.engine.library
    a = lib.enroll("Ann", fake_voiceprint(1), 5.0, "a.wav")
    b = lib.enroll("Ben", fake_voiceprint(2), 6.0, "b.wav")
    win.refresh_library()
    assert win.library_panel.list.count() == 2
    win.library_panel.select_id(a.id)
    win.prompts.texts = ["Anna"]
    win.rename_speaker()
    assert [s.name for s in win.speakers] == ["Anna", "Ben"] or \
        sorted(s.name for s in win.speakers) == ["Anna", "Ben"]
    # merge: select both, keep Ben
    for k in range(win.library_panel.list.count()):
        win.library_panel.list.item(k).setSelected(True)
    win.prompts.choices = ["Ben"]
    win.merge_speakers()
    assert [(s.name, s.num_enrollments) for s in win.speakers] == [("Ben", 2)]
    assert win.speakers[0].seconds == pytest.approx(11.0)
    # export then delete then import
    out = tmp_path / "lib.json"
    win.export_library(str(out))
    wait_for(qtbot, lambda: out.exists() and "library" in win.bridge.last)
    win.library_panel.select_id(b.id)
    win.delete_speaker()
    assert win.speakers == []
    win.import_library(str(out), "skip")
    wait_for(qtbot, lambda: len(win.speakers) == 1)
    assert win.speakers[0].name == "Ben"


def test_turn_click_selects_and_table_follows(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)
    identify(qtbot, win)
    win.timeline.lanes.turnClicked.emit(3)
    assert win.selected == [3]
    assert win.table.selected_rows() == [3]
    t = win.review.turns[3]
    assert win.timeline.selection() == pytest.approx((t.start, t.end))
    assert win.timeline.lanes.hit((t.start + t.end) / 2,
                                  win.timeline.lanes.lane_of(t.speaker) + 0.5) == 3
    win.table.select_rows([5])
    assert win.selected == [5]
    assert win.timeline.lanes.selected == {5}


def test_turns_model_keeps_turn_objects(win: MainWindow) -> None:
    # guards the review model against losing fields on edits
    from gui.review_model import ReviewModel

    m = ReviewModel([Turn(0, 1, "A", 70.0, "SPEAKER_00"), Turn(1, 2, "B", 60.0, "SPEAKER_01")])
    e = m.relabel([0], "B")
    m.apply(e)
    assert m.turns[0] == Turn(0, 1, "B", 70.0, "SPEAKER_00")


@pytest.mark.parametrize("suffix", [".json", ".rttm", ".csv", ".txt"])
def test_export_writes_every_format_with_names(qtbot, win: MainWindow, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               suffix: str) -> None:
    from engine import formats
    from gui.engine_facade import Engine

    monkeypatch.setattr(FakeEngine, "write_result", Engine.write_result)
    bob = win.engine.library.enroll("Bob Marley", fake_voiceprint(3), 9.0, "b.wav")
    win.refresh_library()
    open_sample(qtbot, win)
    identify(qtbot, win)
    win.select_turns([1])
    win.relabel_selected(str(bob.id))
    out = tmp_path / f"result{suffix}"
    assert win.export_result(str(out))
    back = formats.read(out)
    assert len(back) == len(win.review.turns)
    want = [win.name_of(t.speaker) for t in win.review.turns]
    if suffix == ".rttm":
        want = [w.replace(" ", "_") for w in want]
    assert [t.speaker for t in back] == want
    assert back[1].speaker.startswith("Bob")
    assert [round(t.start, 2) for t in back] == [round(t.start, 2) for t in win.review.turns]


def test_segment_menu_relabels(qtbot, win: MainWindow) -> None:
    alice = win.engine.library.enroll("Alice", fake_voiceprint(1), 10.0, "a.wav")
    win.refresh_library()
    open_sample(qtbot, win)
    assert win.build_segment_menu() is None  # no result yet
    identify(qtbot, win)
    rows = win.review.turns_of("UNKNOWN_00")
    win.select_turns([rows[0]])
    menu = win.build_segment_menu()
    subs = {a.text(): a.menu() for a in menu.actions() if a.menu() is not None}
    assert set(subs) == {"Relabel segment as", "Relabel whole cluster as"}
    texts = [a.text() for a in subs["Relabel segment as"].actions() if a.text()]
    assert texts == ["Alice", "New speaker…", "Unknown 1", "Unknown (new)"]
    next(a for a in subs["Relabel whole cluster as"].actions() if a.text() == "Alice").trigger()
    assert all(win.review.turns[i].speaker == str(alice.id) for i in rows)
    win.undo_stack.undo()
    win.select_turns([rows[0]])
    menu = win.build_segment_menu()
    sub = next(a.menu() for a in menu.actions() if a.text() == "Relabel segment as")
    next(a for a in sub.actions() if a.text() == "Unknown (new)").trigger()
    assert win.review.turns[rows[0]].speaker == "UNKNOWN_01"
    assert win.review.turns[rows[1]].speaker == "UNKNOWN_00"


def test_about_names_the_model_licences(qtbot, win: MainWindow) -> None:
    win.actions["about"].trigger()
    text = win.about_dialog.findChild(__import__("PySide6.QtWidgets").QtWidgets.QTextBrowser) \
        .toPlainText()
    assert "Voiceprint Studio" in text
    assert "SpeechBrain" in text and "Apache" in text
    assert "pyannote" in text.lower()
    win.about_dialog.close()


# -- split-channel identification ---------------------------------------------------------------
CALL = Path(__file__).resolve().parents[1] / "data" / "call_stereo.ogg"


def _split_result(duration: float, alice: str):
    """What identify_channels gives for the call: Alice on channel 0, a stranger on 1."""
    from _helpers_gui import FakeResult

    from engine.segments import ScoreTrack

    turns = (Turn(0.0, 6.6, alice, 90.0, "SPEAKER_00", 0),
             Turn(6.2, 10.1, "UNKNOWN_00", 10.0, "SPEAKER_01", 1),
             Turn(10.0, 14.8, alice, 90.0, "SPEAKER_00", 0),
             Turn(14.3, 16.9, "UNKNOWN_00", 10.0, "SPEAKER_01", 1))
    return FakeResult(turns, ScoreTrack(0.01, 0.02, np.zeros(int(duration / 0.02), np.float32)),
                      duration=duration)


def test_channel_choice_only_for_multichannel_files(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)  # mono
    assert not win.channel_options_visible()
    assert "channel_mode" not in win.identify_options()
    win.open_path(CALL)
    wait_for(qtbot, lambda: win.audio_path == str(CALL))
    assert win.channel_options_visible()
    assert [a.text() for a in win.channel_actions] == ["Channel 0 (left)", "Channel 1 (right)"]
    assert win.channel_mode.currentData() == "mix" and not win.channel_pick.isEnabled()
    assert "channel_mode" not in win.identify_options()  # mix: as before
    win.open_path(SAMPLE)
    wait_for(qtbot, lambda: win.audio_path == str(SAMPLE))
    assert not win.channel_options_visible()


def test_split_identification_shows_channels(qtbot, win: MainWindow) -> None:
    alice = str(win.engine.library.enroll("Alice", fake_voiceprint(1), 10.0, "a.wav").id)
    win.refresh_library()
    win.open_path(CALL)
    wait_for(qtbot, lambda: win.audio_path == str(CALL))
    win.engine.identify_fn = lambda audio, vps, cancel, progress: _split_result(17.5, alice)
    win.channel_mode.setCurrentIndex(win.channel_mode.findData("split"))
    assert win.channel_pick.isEnabled() and win.channel_pick.text() == "all"
    identify(qtbot, win)
    call = win.engine.identify_calls[-1]
    assert call["channel_mode"] == "split" and call["channels"] is None
    # table: a channel column with each turn's channel
    m = win.table_model
    assert not win.table.isColumnHidden(5)
    assert [m.channel_text(r) for r in range(m.rowCount())] == [
        "0 (left)", "1 (right)", "0 (left)", "1 (right)"]
    assert m.data(m.index(1, 5)) == "1 (right)" and m.data(m.index(1, 5), 256) == 1
    # lanes grouped by channel, named with it
    assert win.timeline.lanes.labels == [alice, "UNKNOWN_00"]
    ticks = win.timeline.lanes_plot.getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == ["ch0 Alice", "ch1 Unknown 1"]
    # one channel only
    win.channel_actions[0].setChecked(False)
    assert win.channel_pick.text() == "1 (right)"
    identify(qtbot, win)
    assert win.engine.identify_calls[-1]["channels"] == [1]
    win.channel_actions[1].setChecked(False)
    n = len(win.engine.identify_calls)
    assert win.run_identify() is None and len(win.engine.identify_calls) == n
    assert "at least one channel" in win.status_label.text()


def test_mix_result_hides_the_channel_column(qtbot, win: MainWindow) -> None:
    open_sample(qtbot, win)
    identify(qtbot, win)
    assert win.table.isColumnHidden(5)
    ticks = win.timeline.lanes_plot.getAxis("left")._tickLevels[0]
    assert not any(name.startswith("ch") for _, name in ticks)


def test_split_session_and_merge_keep_channels(qtbot, win: MainWindow, tmp_path: Path) -> None:
    from gui.review_model import ReviewModel

    win.open_path(CALL)
    wait_for(qtbot, lambda: win.audio_path == str(CALL))
    win.engine.identify_fn = lambda audio, vps, cancel, progress: _split_result(17.5, "UNKNOWN_01")
    win.channel_mode.setCurrentIndex(1)
    identify(qtbot, win)
    # merging never joins turns of two channels
    win.select_turns([1])
    assert win.merge_with_next()
    assert [(t.start, t.end, t.channel) for t in win.review.turns if t.channel == 1] == [
        (6.2, 16.9, 1)]
    assert len(win.review.turns) == 3
    p = tmp_path / "call.vpsession.json"
    assert win.save_session(str(p))
    back, _ = ReviewModel.load_session(p)
    assert [t.channel for t in back.turns] == [t.channel for t in win.review.turns]
