"""Screenshots of the real window for the README (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m gui.screenshot

Uses a throw-away data home: enrolls the two speakers of the shipped sample
recording from their reference turns, identifies the whole recording with the
real engine, selects a turn and saves ``resources/screenshots/main.png``
(and ``enroll.png``, the quality report after an enrollment).
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
# speaker90 / speaker91 alone, from tests/data/pyannote_sample.rttm
ENROL = {"Ada": [(10.6, 14.45), (18.65, 21.45)], "Ben": [(21.8, 27.8)]}


class _Answers:
    """Prompts that answer with the next name, for an unattended run."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.shown: list[str] = []

    def ask_text(self, title, label, text="", choices=()):
        self.shown.append(label)
        return self.names.pop(0) if self.names else None

    def ask_enroll(self, report_text, speakers, new_name="", existing_id=None):
        """The enrollment dialog: a new speaker named with the next name."""
        from gui.enroll_dialog import EnrollChoice

        name = self.ask_text("Enroll speaker", report_text)
        return EnrollChoice(name) if name else None

    def error(self, title, text):
        print("error:", title, text, file=sys.stderr)

    info = error

    def open_file(self, *a):
        return None

    save_file = open_file

    def ask_choice(self, *a):
        return None

    def confirm(self, *a):
        return False


class StallProbe:
    """Largest gap between ticks of a 5 ms timer: how long the main thread was blocked."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.worst = 0.0
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last)
        self._last = now

    def start(self) -> None:
        self.worst = 0.0
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.worst


def wait(app, cond, timeout: float) -> None:
    """Run the real event loop until ``cond()`` holds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    end = time.monotonic() + timeout
    poll = QTimer()
    poll.setInterval(20)

    def check() -> None:
        if cond() or time.monotonic() > end:
            loop.quit()

    poll.timeout.connect(check)
    poll.start()
    loop.exec()
    poll.stop()
    if not cond():
        raise TimeoutError("timed out")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "resources" / "screenshots"))
    ap.add_argument("--audio", default=str(SAMPLE))
    args = ap.parse_args(argv)
    os.environ.setdefault("VPSTUDIO_HOME", tempfile.mkdtemp(prefix="vpshot-"))
    from gui.app import make_app
    from gui.main_window import MainWindow

    app = make_app()
    prompts = _Answers(list(ENROL))
    w = MainWindow(prompts=prompts)
    w.resize(1440, 900)
    w.show()
    w.open_path(args.audio)
    wait(app, lambda: w.audio is not None, 60)
    reports = []
    finish = w.finish_enroll

    def keep_report(enrollment, *a, **kw):
        reports.append(enrollment.quality)
        return finish(enrollment, *a, **kw)

    w.finish_enroll = keep_report
    for spans in ENROL.values():
        n = len(w.speakers)
        w.enroll_spans(spans)
        wait(app, lambda n=n: len(w.speakers) > n, 300)
    print(f"enrolled {[s.name for s in w.speakers]}")
    probe = StallProbe()
    probe.start()
    t0 = time.perf_counter()
    w.run_identify()
    wait(app, lambda: w.review is not None and not w.bridge.busy, 600)
    print(f"identification {time.perf_counter() - t0:.1f} s; longest main-thread stall "
          f"{1000 * probe.stop():.0f} ms")
    print(f"{len(w.review.turns)} turns, labels {[w.name_of(x) for x in w.review.labels()]}")
    i = w.review.turn_at(12.0) or 0
    w.select_turns([i])
    w.timeline.set_playhead(12.0)
    from gui.wording import result_summary

    w.show_message(f"{result_summary(len(w.review.turns), w.review.labels())}. "
                   "Right-click a segment to relabel it; Ctrl+Z undoes.")
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    w.grab().save(str(out / "main.png"))
    print(f"saved {out / 'main.png'}")
    # the enrollment question as a user sees it: quality report + name
    from PySide6.QtWidgets import QInputDialog

    from gui.dialogs import format_quality

    dlg = QInputDialog(w)
    dlg.setWindowTitle("Enroll speaker")
    dlg.setLabelText(format_quality(reports[0]) + "\n\nSpeaker name (new or existing):")
    dlg.setComboBoxItems(["Ada", "Ben"])
    dlg.setComboBoxEditable(True)
    dlg.show()
    for _ in range(10):
        app.processEvents()
        time.sleep(0.02)
    dlg.grab().save(str(out / "enroll.png"))
    print(f"saved {out / 'enroll.png'}")
    dlg.close()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
