"""A first-time user's walkthrough of the real window under a real X server (not a test).

    Xvfb :77 -screen 0 1600x1000x24 &
    DISPLAY=:77 python tests/gui/walkthrough_xvfb.py review HOME OUT   # ends killed (SIGKILL)
    DISPLAY=:77 python tests/gui/walkthrough_xvfb.py restore HOME OUT

``review``: open the pyannote sample, enroll two speakers from selections (the real
name dialog is typed into), identify, edit, quit (the Save / Discard / Cancel box
is answered Cancel), wait for the autosave, then the process kills itself.
``restore``: a new start on the same data folder offers the unsaved session; Yes.
Screenshots of the whole screen (dialogs included) go to OUT as PNG.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "pyannote_sample.wav"


def main() -> int:
    mode, home, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from engine import paths

    paths.set_data_home(home)
    from gui.app import make_app

    app = make_app()
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

    from gui.main_window import MainWindow

    w = MainWindow()
    w.resize(1500, 940)
    w.move(20, 20)
    w.show()

    def shot(name: str) -> None:
        app.processEvents()
        QGuiApplication.primaryScreen().grabWindow(0).save(str(out / f"{name}.png"))
        print("screenshot", name, flush=True)

    def wait(cond: Callable[[], bool], timeout: float = 300.0) -> Iterator[None]:
        t0 = time.monotonic()
        while not cond():
            if time.monotonic() - t0 > timeout:
                raise TimeoutError("walkthrough step timed out")
            yield

    def pause(seconds: float) -> Iterator[None]:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            yield

    def modal(kind: type) -> Iterator[None]:
        yield from wait(lambda: isinstance(QApplication.activeModalWidget(), kind), 300)
        yield from pause(0.5)

    def type_name(name: str) -> Iterator[None]:
        yield from modal(QInputDialog)
        dlg = QApplication.activeModalWidget()
        dlg.setTextValue(name)
        yield from pause(0.3)
        shot(f"enroll-{name.lower()}")
        dlg.accept()

    def press(button: QMessageBox.StandardButton) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox), box
        box.button(button).click()

    def review() -> Iterator[None]:
        yield from pause(1.0)
        shot("01-empty-window")
        w.open_path(SAMPLE)
        yield from wait(lambda: w.audio is not None)
        yield from pause(0.5)
        shot("02-opened")
        # speaker90 alone 10.57-14.49 s, speaker91 alone 21.78-27.85 s (pyannote_sample.rttm)
        for name, (a, b) in (("Ninety", (10.6, 14.45)), ("Ninetyone", (21.8, 27.8))):
            w.timeline.set_selection(a, b)
            w.actions["enroll_selection"].trigger()
            yield from type_name(name)
            yield from wait(lambda: not w.bridge.busy)
        yield from pause(0.5)
        shot("03-two-enrolled")
        w.timeline.clear_region()
        w.actions["identify"].trigger()
        yield from wait(lambda: w.review is not None and not w.bridge.busy)
        yield from pause(1.0)
        shot("04-identified")
        # edit: delete the shortest turn, relabel the first turn as the other speaker
        i = min(range(len(w.review.turns)), key=lambda k: w.review.turns[k].duration)
        w.select_turns([i])
        w.actions["delete"].trigger()
        w.select_turns([0])
        other = next(str(s.id) for s in w.speakers if str(s.id) != w.review.turns[0].speaker)
        w.relabel_selected(other)
        yield from pause(0.5)
        shot("05-edited")
        QTimer.singleShot(0, w.close)  # Ctrl+Q / the close button
        yield from modal(QMessageBox)
        shot("06-quit-asks-save-discard-cancel")
        press(QMessageBox.StandardButton.Cancel)
        yield from wait(lambda: w.autosaver.pending() is not None, 30)
        print("autosaved", w.autosaver.pending(), len(w.review.turns), "turns", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # a crash: no closeEvent, nothing saved

    def restore() -> Iterator[None]:
        yield from modal(QMessageBox)
        shot("07-next-start-offers-restore")
        press(QMessageBox.StandardButton.Yes)
        yield from wait(lambda: w.review is not None and not w.bridge.busy)
        yield from pause(1.0)
        shot("08-restored")
        print("restored", len(w.review.turns), "turns;", w.status_label.text(), flush=True)
        w.autosaver.discard()
        w.undo_stack.setClean()
        app.quit()

    steps = review() if mode == "review" else restore()
    timer = QTimer()

    def tick() -> None:
        try:
            next(steps)
        except StopIteration:
            timer.stop()

    timer.timeout.connect(tick)
    timer.start(50)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
