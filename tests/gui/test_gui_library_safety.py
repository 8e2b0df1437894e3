"""Issue 12, "never damage the library by accident": the enroll dialog, the voice check
before adding to an existing speaker, the speaker details dialog and the library's
context menu, and Export library (fake models; the real-engine checks are in
test_gui_library_real.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QDialogButtonBox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import (  # noqa: E402
    fake_voiceprint,
    wait_for,
)

from gui.enroll_dialog import EnrollChoice, EnrollDialog  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav"


def open_sample(qtbot, w: MainWindow) -> None:
    w.open_path(SAMPLE)
    wait_for(qtbot, lambda: w.audio is not None)


def _ok(dlg: EnrollDialog):
    return dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_enroll_dialog_starts_with_an_empty_new_name(qtbot, win: MainWindow) -> None:
    lib = win.engine.library
    dave = lib.enroll("Dave", fake_voiceprint(1), 8.0, "d.wav")
    lib.enroll("Ann", fake_voiceprint(2), 8.0, "a.wav")
    win.refresh_library()
    # even when the selection's turns are Dave's, the dialog starts on a NEW speaker
    dlg = EnrollDialog("Good", win.speakers, new_name="Dave", existing_id=dave.id)
    qtbot.addWidget(dlg)
    assert dlg.new_radio.isChecked() and dlg.name_edit.text() == ""
    assert not _ok(dlg).isEnabled() and dlg.choice() is None
    model = dlg.name_edit.completer().model()
    assert sorted(model.data(model.index(i, 0)) for i in range(model.rowCount())) == ["Ann", "Dave"]
    # an existing name typed as a new speaker is not quietly added to them
    qtbot.keyClicks(dlg.name_edit, "dave")
    assert dlg.choice() is None and not _ok(dlg).isEnabled()
    assert "already in the library" in dlg.hint.text()
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, "Dana")
    assert dlg.choice() == EnrollChoice("Dana") and _ok(dlg).isEnabled()
    # adding to an existing speaker is its own, explicit choice (Dave preselected there)
    dlg.existing_radio.setChecked(True)
    assert dlg.choice() == EnrollChoice("Dave", dave.id) and _ok(dlg).text() == "Add"
    # a suggestion for a new name is kept when it is not taken
    dlg2 = EnrollDialog("Good", win.speakers, new_name="Frank")
    qtbot.addWidget(dlg2)
    assert dlg2.name_edit.text() == "Frank" and dlg2.choice() == EnrollChoice("Frank")


def test_enroll_from_a_known_speakers_turn_asks_new_or_existing(qtbot, win: MainWindow) -> None:
    lib = win.engine.library
    dave = lib.enroll("Dave", fake_voiceprint(1), 8.0, "d.wav")
    win.refresh_library()
    open_sample(qtbot, win)
    win.run_identify()  # the fake names the first cluster Dave
    wait_for(qtbot, lambda: win.review is not None and not win.bridge.busy)
    rows = win.review.turns_of(str(dave.id))
    win.select_turns(rows[:1])
    win.timeline.set_selection(win.review.turns[rows[0]].start, win.review.turns[rows[0]].start + 4)
    win.prompts.texts = ["Dave"]  # typed as a NEW speaker: refused, not added to Dave
    win.enroll_from_selection()
    wait_for(qtbot, lambda: bool(win.prompts.enroll_asks or win.prompts.errors))
    assert win.prompts.enroll_asks[-1] == {"new_name": "", "existing_id": dave.id,
                                           "names": ["Dave"]}
    assert win.prompts.errors and "already in the library" in win.prompts.errors[-1][1]
    assert lib.get(dave.id).num_enrollments == 1


def test_adding_another_voice_to_a_speaker_warns_with_the_score(qtbot, win: MainWindow) -> None:
    lib = win.engine.library
    dave = lib.enroll("Dave", fake_voiceprint(99), 8.0, "d.wav")  # the fake extracts seeds 1, 2..
    win.refresh_library()
    open_sample(qtbot, win)
    win.prompts.enroll_choices = [EnrollChoice("Dave", dave.id)]
    win.prompts.confirm_answer = False
    win.timeline.set_selection(2.0, 7.0)
    win.enroll_from_selection()  # the fake voiceprint is another random voice
    wait_for(qtbot, lambda: bool(win.prompts.confirms))
    title, text = win.prompts.confirms[-1]
    assert "does not sound like 'Dave'" in text and "score" in text and "threshold" in text
    assert lib.get(dave.id).num_enrollments == 1  # nothing written
    win.prompts.enroll_choices = [EnrollChoice("Dave", dave.id)]
    win.prompts.confirm_answer = True
    win.enroll_from_selection()
    wait_for(qtbot, lambda: lib.get(dave.id).num_enrollments == 2)


def test_speaker_details_list_play_and_remove(qtbot, win: MainWindow, fake_sd) -> None:
    lib = win.engine.library
    old = lib.enroll("Dana", fake_voiceprint(7), 6.0, "old.wav")  # no clip, no quality
    win.refresh_library()
    open_sample(qtbot, win)
    win.prompts.enroll_choices = [EnrollChoice("Dana", old.id)]
    win.timeline.set_selection(2.0, 7.0)
    win.enroll_from_selection()
    wait_for(qtbot, lambda: lib.get(old.id).num_enrollments == 2)
    win.library_panel.select_id(old.id)
    win._update_actions()
    menu = [a.text().replace("&", "") for a in win.library_panel.list.actions()
            if not a.isSeparator()]
    assert menu == ["Speaker details…", "Rename speaker…", "Delete speaker…",
                    "Merge speakers…", "Export selected speakers…"]
    assert win.actions["speaker_details"].isEnabled()
    win.actions["speaker_details"].trigger()
    dlg = win.details_dialog
    qtbot.addWidget(dlg)
    t = dlg.table
    rows = [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]
    assert [r[0] for r in rows] == ["old.wav", "pyannote_sample.wav"]
    assert rows[0][2] == "6.0 s" and rows[1][2] == "5.0 s"
    assert rows[0][4] == "Not recorded" and rows[1][4] == "Good"
    assert rows[0][3] == "Not kept" and rows[1][3] == "Kept"
    assert rows[1][1][:4].isdigit()  # a date
    dlg.select(0)
    assert not dlg.play_button.isEnabled()
    dlg.select(1)
    assert dlg.play_button.isEnabled() and dlg.play_selected()
    wait_for(qtbot, lambda: fake_sd.out_streams and not dlg.player.playing)
    played = np.concatenate(fake_sd.out_streams[-1].played)
    expected = win.audio.read_frames(0, win.audio.num_samples)[32000:112000]
    assert played.size >= expected.size
    np.testing.assert_allclose(played[: expected.size], expected, atol=1e-3)
    # remove the old enrollment: asked first, the voiceprint is recomputed from the rest
    win.prompts.confirm_answer = False
    dlg.select(0)
    assert not dlg.remove_button.isHidden() and not dlg.remove_selected()
    assert lib.get(old.id).num_enrollments == 2
    win.prompts.confirm_answer = True
    assert dlg.remove_selected()
    assert "recomputed from the other 1 enrollment" in win.prompts.confirms[-1][1]
    kept = lib.enrollments(old.id)
    assert [e.source for e in kept] == ["pyannote_sample.wav"] and dlg.table.rowCount() == 1
    np.testing.assert_allclose(lib.voiceprint(old.id).vector,
                               lib.enrollment_voiceprint(kept[0].id).vector, atol=1e-6)
    assert [(s.name, s.num_enrollments) for s in win.speakers] == [("Dana", 1)]


def test_export_library_writes_every_speaker_unless_a_selection_is_chosen(
        qtbot, win: MainWindow, tmp_path: Path) -> None:
    lib = win.engine.library
    ann = lib.enroll("Ann", fake_voiceprint(1), 5.0, "a.wav")
    lib.enroll("Ben", fake_voiceprint(2), 6.0, "b.wav")
    win.refresh_library()
    win.library_panel.select_id(ann.id)  # a selection left over in the list
    everyone, chosen = tmp_path / "all.json", tmp_path / "chosen.json"
    win.prompts.files = [str(everyone)]
    win.actions["export_library"].trigger()
    wait_for(qtbot, lambda: everyone.exists() and not win.bridge.busy)
    doc = json.loads(everyone.read_text(encoding="utf-8"))
    assert sorted(s["name"] for s in doc["speakers"]) == ["Ann", "Ben"]
    wait_for(qtbot, lambda: "Exported 2 speakers" in win.status_label.text())
    win.prompts.files = [str(chosen)]
    win.actions["export_selected"].trigger()
    wait_for(qtbot, lambda: chosen.exists() and not win.bridge.busy)
    doc = json.loads(chosen.read_text(encoding="utf-8"))
    assert [s["name"] for s in doc["speakers"]] == ["Ann"]
    wait_for(qtbot, lambda: "Exported 1 selected speaker " in win.status_label.text())
