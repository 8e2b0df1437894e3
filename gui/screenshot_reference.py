"""Screenshot of the reference overlay for the README (run under Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m gui.screenshot_reference

As :mod:`gui.screenshot`: a throw-away data home, the two speakers of the shipped sample
enrolled from their reference turns, the whole recording identified with the real
engine; then the sample's reference RTTM is loaded (File > Load reference…), the view
zoomed to 4-22 s, and ``resources/screenshots/reference.png`` saved once the whole-file
and visible-range scores are shown. Prints the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from gui.screenshot import ENROL, ROOT, SAMPLE, _Answers, wait

TRUTH = ROOT / "tests" / "data" / "pyannote_sample.rttm"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "resources" / "screenshots"))
    args = ap.parse_args(argv)
    os.environ.setdefault("VPSTUDIO_HOME", tempfile.mkdtemp(prefix="vpshot-"))
    from gui.app import make_app
    from gui.main_window import MainWindow

    app = make_app()
    w = MainWindow(prompts=_Answers(list(ENROL)))
    w.resize(1440, 900)
    w.show()
    w.open_path(str(SAMPLE))
    wait(app, lambda: w.audio is not None, 60)
    for spans in ENROL.values():
        n = len(w.speakers)
        w.enroll_spans(spans)
        wait(app, lambda n=n: len(w.speakers) > n, 300)
    w.run_identify()
    wait(app, lambda: w.review is not None and not w.bridge.busy, 600)
    w.load_reference(str(TRUTH))
    wait(app, lambda: w.reference_scores is not None, 120)
    w.timeline.wave_plot.setXRange(4.0, 22.0, padding=0)
    wait(app, lambda: w.reference_scores is not None
         and abs(w.reference_scores[1].start - 4.0) < 1e-6, 120)
    whole, visible = w.reference_scores
    for name, s in (("whole file", whole), ("visible 4-22 s", visible)):
        print(f"{name}: DER {s.der:.3f}, missed {s.missed:.2f} s, false alarm "
              f"{s.false_alarm:.2f} s, confusion {s.confusion:.2f} s of {s.total:.2f} s")
    w.show_message("Reference pyannote_sample.rttm loaded: ref: lanes under the speaker lanes.")
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    w.grab().save(str(out / "reference.png"))
    print(f"saved {out / 'reference.png'}")
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
