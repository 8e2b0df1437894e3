"""Editing moves in the window (fake engine): edge drags, table edits, keys, readout,
spectrogram. Assertions are on data: turn bounds, labels, undo."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QLineEdit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import fake_voiceprint, wait_for  # noqa: E402

from gui.main_window import MainWindow  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav"
SR = 16000


@pytest.fixture
def ready(qtbot, win: MainWindow) -> MainWindow:
    """The sample identified with Alice enrolled: turns every 2 s (1.5 s long),
    alternating Alice (lane 1) and Unknown 1 (lane 2)."""
    win.resize(1200, 800)
    alice = win.engine.library.enroll("Alice", fake_voiceprint(1), 10.0, "a.wav")
    win.refresh_library()
    win.alice = str(alice.id)
    win.open_path(SAMPLE)
    wait_for(qtbot, lambda: win.audio is not None)
    win.run_identify()
    wait_for(qtbot, lambda: win.review is not None and not win.bridge.busy)
    assert win.review.turns[0].speaker == win.alice and win.review.turns[0].end == 1.5
    return win


def view_pos(w: MainWindow, t: float, lane: int) -> QPoint:
    """Widget pixel of time ``t`` in the middle of speaker lane ``lane`` (0 = top)."""
    tl = w.timeline
    scene = tl.lanes.mapToScene(QPointF(t, lane + 0.5))
    return tl.mapFromScene(scene)


def mouse_drag(qtbot, w: MainWindow, a: QPoint, b: QPoint, during=None) -> None:
    vp = w.timeline.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for k in range(1, 9):
        p = a + (b - a) * (k / 8)
        QTest.mouseMove(vp, p)
        qtbot.wait(5)
    if during is not None:
        during()
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    qtbot.wait(20)


def px_seconds(w: MainWindow) -> float:
    (x0, x1), _ = w.timeline.lanes_plot.vb.viewRange()
    return (x1 - x0) / w.timeline.lanes_plot.vb.width()


# -- drag on the timeline ------------------------------------------------------------
def test_drag_a_turn_end_with_the_mouse_updates_table_and_undoes(qtbot, ready: MainWindow) -> None:
    w = ready
    w.timeline.zoom_to(0.0, 6.0)
    qtbot.wait(30)
    original = w.review.turns
    seen: list[tuple[float, tuple]] = []

    def mid_drag() -> None:  # the lane previews the new end; nothing is edited yet
        seen.append((w.timeline.lanes.turns[0].end, w.review.turns))

    mouse_drag(qtbot, w, view_pos(w, 1.5, 0), view_pos(w, 1.9, 0), during=mid_drag)
    assert 1.7 < seen[0][0] < 1.9 + 2 * px_seconds(w)  # (the scene may skip the last move)
    assert seen[0][1] == original
    t0 = w.review.turns[0]
    assert t0.end == pytest.approx(1.9, abs=2 * px_seconds(w))
    assert t0.start == 0.0 and t0.speaker == w.alice
    assert round(t0.end * 1000) == pytest.approx(t0.end * 1000, abs=1e-6)  # ms grid
    assert w.review.turns[1:] == original[1:]
    assert w.table_model.row_values(0)[1] == t0.end  # the table follows
    assert w.undo_stack.count() == 1  # one drag, one undo step
    assert w.selected == [0]
    w.undo_stack.undo()
    assert w.review.turns == original
    assert w.table_model.row_values(0)[1] == 1.5


def test_drag_a_turn_start_is_clamped_by_the_same_speaker(qtbot, ready: MainWindow) -> None:
    w = ready
    w.timeline.zoom_to(0.0, 6.0)
    qtbot.wait(30)
    # Alice's second turn (4.0-5.5) dragged left over her first (ends 1.5): stops there
    mouse_drag(qtbot, w, view_pos(w, 4.0, 0), view_pos(w, 0.8, 0))
    t = next(t for t in w.review.turns if t.end == 5.5)
    assert t.start == pytest.approx(1.5) and t.speaker == w.alice
    assert w.review.turns[w.selected[0]] == t  # it stays selected where it went (re-sorted)


def test_a_drag_away_from_edges_pans_and_edits_nothing(qtbot, ready: MainWindow) -> None:
    w = ready
    w.timeline.zoom_to(0.0, 6.0)
    qtbot.wait(30)
    before = w.review.turns
    mouse_drag(qtbot, w, view_pos(w, 0.75, 0), view_pos(w, 0.3, 0))
    assert w.review.turns == before and w.undo_stack.count() == 0
    (x0, _), _ = w.timeline.lanes_plot.vb.viewRange()
    assert x0 > 0.1  # the view panned instead


def test_drag_snaps_to_samples_when_zoomed_in(qtbot, ready: MainWindow) -> None:
    w = ready
    w.timeline.zoom_to(1.49, 1.51)  # 320 samples over ~1000 px: the samples are drawn
    qtbot.wait(30)
    assert px_seconds(w) * SR < 1.0
    mouse_drag(qtbot, w, view_pos(w, 1.5, 0), view_pos(w, 1.5043, 0))
    end = w.review.turns[0].end
    assert end != 1.5 and end == pytest.approx(1.5043, abs=3 * px_seconds(w))
    assert end * SR == pytest.approx(round(end * SR), abs=1e-6)  # on a sample
    # the waveform drawn there is the samples themselves, at sample times
    x, _ = w.timeline.wave_curve.getData()
    assert np.allclose(x * SR, np.round(x * SR))


# -- table edits -------------------------------------------------------------------------
def test_table_edits_start_and_end_and_refuses_invalid_times(qtbot, ready: MainWindow) -> None:
    w = ready
    m = w.table_model
    original = w.review.turns
    assert m.flags(m.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert not m.flags(m.index(0, 2)) & Qt.ItemFlag.ItemIsEditable  # duration
    assert m.data(m.index(0, 1), Qt.ItemDataRole.EditRole) == "0:01.50"
    assert m.setData(m.index(0, 1), "0:01.80")
    wait_for(qtbot, lambda: w.review.turns[0].end == pytest.approx(1.8))
    assert m.row_values(0)[1] == pytest.approx(1.8)
    assert m.setData(m.index(1, 0), "1.9")  # Unknown's turn 2.0-3.5 may overlap Alice's
    wait_for(qtbot, lambda: w.review.turns[1].start == pytest.approx(1.9))
    assert w.undo_stack.count() == 2
    for bad, why in [("abc", "not a time"), ("0:03.60", "must be before the end"),
                     ("1:75", "not a time")]:
        assert not m.setData(m.index(1, 0), bad)
        assert why in w.status_label.text() and why in w.editing.last_error
    assert not m.setData(m.index(0, 1), "0:45")
    assert "past the end of the recording" in w.status_label.text()
    assert not m.setData(m.index(0, 1), "0:04.50")  # over Alice's own next turn
    assert "overlap Alice's segment" in w.status_label.text()
    assert w.undo_stack.count() == 2
    w.undo_stack.undo()
    w.undo_stack.undo()
    assert w.review.turns == original


def test_table_start_edit_through_the_line_editor(qtbot, ready: MainWindow) -> None:
    w = ready
    idx = w.table_model.index(2, 0)  # Alice 4.0-5.5
    w.table.setCurrentIndex(idx)
    w.table.edit(idx)
    editor = w.table.findChild(QLineEdit)
    assert editor is not None and editor.text() == "0:04.00"
    before = w.review.turns
    editor.selectAll()
    # typed digits go to the editor, not to the 1-9 relabel keys (nor S to split)
    w.activateWindow()
    QTest.keyClicks(editor, "0:03.25")
    assert editor.text() == "0:03.25" and w.review.turns == before
    QTest.keyClick(editor, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: w.review.turns[2].start == pytest.approx(3.25))
    assert w.review.turns[2].speaker == before[2].speaker


def test_speaker_combo_picks_or_creates_a_label(qtbot, ready: MainWindow) -> None:
    w = ready
    bob = w.engine.library.enroll("Bob", fake_voiceprint(2), 8.0, "b.wav")
    w.refresh_library()
    idx = w.table_model.index(1, 3)  # Unknown 1's first turn
    w.table.setCurrentIndex(idx)
    w.table.edit(idx)
    box = w.table.findChild(QComboBox)
    assert box is not None and box.isEditable()
    assert [box.itemText(i) for i in range(box.count())] == ["Alice", "Bob", "Unknown 1"]
    assert box.currentText() == "Unknown 1"
    box.setCurrentIndex(1)
    QTest.keyClick(box, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: w.review.turns[1].speaker == str(bob.id))
    assert w.table_model.row_values(1)[3] == "Bob"
    # a name typed in the combo box (its letters are not the P / S keys there)
    idx = w.table_model.index(5, 3)
    w.table.setCurrentIndex(idx)
    w.table.edit(idx)
    box = w.table.findChild(QComboBox)
    box.lineEdit().selectAll()
    QTest.keyClicks(box.lineEdit(), "Sam P")
    QTest.keyClick(box, Qt.Key.Key_Return)
    wait_for(qtbot, lambda: w.name_of(w.review.turns[5].speaker) == "Sam P")
    w.undo_stack.undo()
    # a typed new name: a label unknown to the library
    assert w.table_model.setData(w.table_model.index(3, 3), "Carol")
    wait_for(qtbot, lambda: w.review.turns[3].speaker.startswith("NEW_"))
    assert w.name_of(w.review.turns[3].speaker) == "Carol"
    assert "Carol" not in [s.name for s in w.speakers]
    w.undo_stack.undo()
    w.undo_stack.undo()
    assert w.review.turns[1].speaker == w.review.turns[3].speaker == "UNKNOWN_00"


def test_double_click_on_score_still_plays(qtbot, ready: MainWindow, monkeypatch) -> None:
    played: list[int] = []
    monkeypatch.setattr(ready, "play_segment", played.append)
    ready.table.doubleClicked.emit(ready.table_model.index(4, 4))  # score: not editable
    ready.table.doubleClicked.emit(ready.table_model.index(4, 0))  # start: edits instead
    assert played == [4]


# -- keys ------------------------------------------------------------------------------
def press(qtbot, w: MainWindow, seq: str) -> None:
    """Type a key sequence at the window (its shortcuts answer)."""
    w.activateWindow()
    w.timeline.setFocus()
    ks = QKeySequence(seq)[0]
    QTest.keyClick(w.timeline, ks.key(), ks.keyboardModifiers())
    qtbot.wait(5)


def test_each_editing_key(qtbot, ready: MainWindow, monkeypatch) -> None:
    w = ready
    sc = {k: w.actions[k].shortcut().toString() for k in
          ("next_turn", "prev_turn", "play_turn", "relabel_1", "relabel_2", "relabel_9",
           "split", "delete", "shortcuts")}
    assert sc == {"next_turn": "Ctrl+Right", "prev_turn": "Ctrl+Left", "play_turn": "P",
                  "relabel_1": "1", "relabel_2": "2", "relabel_9": "9", "split": "S",
                  "delete": "Del", "shortcuts": "F1"}
    original = w.review.turns
    # next / previous turn, from the playhead when nothing is selected
    w.timeline.set_playhead(3.0)
    press(qtbot, w, "Ctrl+Right")
    assert w.selected == [2] and w.timeline.playhead == 4.0
    press(qtbot, w, "Ctrl+Right")
    assert w.selected == [3]
    press(qtbot, w, "Ctrl+Left")
    assert w.selected == [2]
    # play turn
    played: list[tuple[float, float]] = []
    monkeypatch.setattr(w.player, "available", True)
    monkeypatch.setattr(w.player, "play", lambda x, rate, a, b=None: played.append((a, b)))
    w.editing.update_actions()
    press(qtbot, w, "P")
    assert played == [(4.0, 5.5)]
    # relabel to speaker 2 (the second lane: Unknown 1), then 1, then 3 (no such lane)
    press(qtbot, w, "2")
    assert w.review.turns[2].speaker == "UNKNOWN_00"
    w.select_turns([3])
    press(qtbot, w, "1")
    assert w.review.turns[3].speaker == w.alice
    assert w.undo_stack.count() == 2
    assert not w.actions["relabel_3"].isEnabled()
    assert not w.editing.relabel_lane(3)
    assert "no speaker 3" in w.status_label.text()
    # split at the playhead
    w.select_turns([0])
    w.timeline.set_playhead(0.5)
    press(qtbot, w, "S")
    assert [(t.start, t.end) for t in w.review.turns[:2]] == [(0.0, 0.5), (0.5, 1.5)]
    # delete
    n = len(w.review.turns)
    w.select_turns([0])
    press(qtbot, w, "Del")
    assert len(w.review.turns) == n - 1 and w.review.turns[0].start == 0.5
    for _ in range(4):
        w.undo_stack.undo()
    assert w.review.turns == original


def test_help_lists_the_shortcuts(qtbot, ready: MainWindow) -> None:
    w = ready
    help_titles = [a.text() for a in w.menus["help"].actions()]
    assert help_titles[0] == "&Keyboard shortcuts"
    press(qtbot, w, "F1")
    wait_for(qtbot, lambda: getattr(w, "shortcuts_dialog", None) is not None)
    rows = dict(w.shortcuts_dialog.rows())
    for keys, what in [("Ctrl+Right", "Next turn"), ("Ctrl+Left", "Previous turn"),
                       ("P", "Play turn"), ("S", "Split at playhead"), ("Del", "Delete segment"),
                       ("M", "Merge with next"), ("Space", "Play / Pause"),
                       ("Ctrl+Z", "Undo")]:
        assert rows.get(keys) == what, keys
    assert "lane 1-9" in rows["1 ... 9"]
    assert "Drag a turn's edge (lanes)" in rows
    assert not any(k == "2" for k in rows)  # the nine relabel keys are one row
    w.shortcuts_dialog.close()


# -- readout ---------------------------------------------------------------------------
def test_readout_of_selection_and_playhead(qtbot, ready: MainWindow) -> None:
    w = ready
    text = w.editing.readout.text
    w.select_turns([1])
    w.timeline.set_playhead(2.25)
    wait_for(qtbot, lambda: text() == "Selection 0:02.00-0:03.50 (1.50 s) | Playhead 0:02.25")
    w.timeline.clear_region()
    wait_for(qtbot, lambda: text() == "No selection | Playhead 0:02.25")
    w.timeline.set_selection(10.0, 72.5 / 2.5)
    wait_for(qtbot, lambda: text() == "Selection 0:10.00-0:29.00 (19.00 s) | Playhead 0:02.25")
    # after a drag the readout shows the new bounds of the selected turn
    w.editing.commit_edge(1, "end", 3.75)
    wait_for(qtbot, lambda: text().startswith("Selection 0:02.00-0:03.75 (1.75 s)"))


# -- spectrogram -----------------------------------------------------------------------
def test_spectrogram_is_computed_for_the_visible_range(qtbot, ready: MainWindow) -> None:
    w = ready
    spec = w.editing.spectrogram
    assert not spec.visible and spec.last is None
    view_titles = [a.text() for a in w.menus["view"].actions()]
    assert "&Spectrogram" in view_titles
    ci = w.timeline.ci
    rows = [ci.getItem(r, 0) for r in range(3)]
    assert rows == [w.timeline.wave_plot, w.timeline.lanes_plot, w.timeline.conf_plot]
    w.timeline.zoom_to(4.0, 8.0)
    lanes_h = w.timeline.lanes_plot.height()
    w.actions["spectrogram"].trigger()
    assert spec.visible
    # under the waveform: the row right below it in the timeline's layout
    assert [ci.getItem(r, 0) for r in range(4)] == [rows[0], spec.plot, *rows[1:]]
    qtbot.wait(20)
    assert w.timeline.lanes_plot.height() < lanes_h - 20  # hidden, it took no room
    s = spec.last
    (x0, x1), _ = w.timeline.wave_plot.vb.viewRange()
    assert s is not None and (s.t0, s.t1) == pytest.approx((x0, x1))
    width = int(spec.plot.vb.width())
    assert 0 < s.db.shape[0] <= width and s.db.shape[1] == 257
    assert s.nyquist == pytest.approx(SR / 2)
    assert spec.image.image.shape == s.db.shape
    assert spec.plot.vb.height() > 20  # it has room on screen
    # zooming recomputes, after the debounce, for the new range only
    w.timeline.zoom_to(10.0, 10.5)
    wait_for(qtbot, lambda: spec.last is not s)
    s2 = spec.last
    (x0, x1), _ = w.timeline.wave_plot.vb.viewRange()
    assert (s2.t0, s2.t1) == pytest.approx((x0, x1))
    assert s2.times.min() >= x0 and s2.times.max() <= x1
    # the playhead shows on it too
    w.timeline.set_playhead(10.2)
    assert w.timeline.playheads[-1].value() == pytest.approx(10.2)
    # hidden: no space taken, no recomputing
    w.actions["spectrogram"].trigger()
    assert not spec.visible
    qtbot.wait(20)
    assert w.timeline.lanes_plot.height() == pytest.approx(lanes_h, abs=2)
    assert [ci.getItem(r, 0) for r in range(3)] == rows and ci.getItem(3, 0) is None
    last = spec.last
    w.timeline.zoom_to(0.0, 30.0)
    qtbot.wait(300)
    assert spec.last is last
