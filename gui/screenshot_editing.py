"""Screenshots of the editing tools for the README (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m gui.screenshot_editing

Uses a throw-away data home and no model: the shipped sample recording is shown
with its reference turns (``tests/data/pyannote_sample.rttm``) as the result to
review. Saves ``resources/screenshots/editing.png`` (a turn's end being dragged,
the spectrogram on, the readout), ``table_edit.png`` (the speaker combo box in
the segment table) and ``shortcuts.png`` (Help > Keyboard shortcuts).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "pyannote_sample.wav"
RTTM = ROOT / "tests" / "data" / "pyannote_sample.rttm"


def settle(app, n: int = 20) -> None:
    for _ in range(n):
        app.processEvents()
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "resources" / "screenshots"))
    args = ap.parse_args(argv)
    os.environ.setdefault("VPSTUDIO_HOME", tempfile.mkdtemp(prefix="vpshot-"))
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    from engine.segments import Turn
    from gui.app import make_app
    from gui.engine_facade import Engine
    from gui.main_window import MainWindow
    from gui.review_model import ReviewModel
    from gui.screenshot import _Answers, wait

    class NoModels(Engine):
        warm_up = None  # the window loads no model: none is needed here

    app = make_app()
    w = MainWindow(engine=NoModels(), prompts=_Answers([]), offer_restore=False)
    w.resize(1440, 900)
    w.show()
    w.open_path(str(SAMPLE))
    wait(app, lambda: w.audio is not None, 60)
    labels = {"speaker90": "NEW_01", "speaker91": "NEW_02"}
    turns = []
    for line in RTTM.read_text().splitlines():
        f = line.split()
        turns.append(Turn(float(f[3]), float(f[3]) + float(f[4]), labels[f[7]], 0.0))
    review = ReviewModel(turns, names={"NEW_01": "Ada", "NEW_02": "Ben"}, duration=30.0)
    w._apply_review(review, None)
    w.actions["spectrogram"].setChecked(True)
    w.timeline.zoom_to(6.0, 22.0)
    settle(app)
    i = review.turn_at(12.0, "NEW_01")
    assert i is not None
    w.select_turns([i])
    w.timeline.set_playhead(12.0)
    settle(app)
    # drag the selected turn's end (14.70 s) to 14.49 s, where Ben starts: grab mid-drag
    tl = w.timeline
    lane = tl.lanes.lane_of("NEW_01")

    def at(t: float):
        return tl.mapFromScene(tl.lanes.mapToScene(QPointF(t, lane + 0.5)))

    vp = tl.viewport()
    a, b = at(review.turns[i].end), at(14.49)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for k in range(1, 9):
        QTest.mouseMove(vp, a + (b - a) * (k / 8))
        settle(app, 2)
    w.show_message("Dragging the end of Ada's turn (one undo step when released).")
    settle(app)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    w.grab().save(str(out / "editing.png"))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    settle(app)
    print(f"turn {i}: {review.turns[i].start:.2f}-{w.review.turns[i].end:.3f} s after the drag")
    print(f"saved {out / 'editing.png'}")
    # the speaker combo box of the segment table
    j = next(k for k, t in enumerate(w.review.turns) if t.start > 14.0)
    idx = w.table_model.index(j, 3)
    w.table.setCurrentIndex(idx)
    w.table.edit(idx)
    w.show_message("Double-click Start, End or Speaker to edit; a new name makes a new speaker.")
    settle(app)
    w.grab().save(str(out / "table_edit.png"))
    print(f"saved {out / 'table_edit.png'}")
    w.table.closePersistentEditor(idx)
    dlg = w.editing.show_shortcuts()
    settle(app)
    dlg.grab().save(str(out / "shortcuts.png"))
    print(f"saved {out / 'shortcuts.png'}")
    dlg.close()
    w.undo_stack.setClean()  # nothing to save: the edits were for the pictures
    w.autosaver.discard()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
