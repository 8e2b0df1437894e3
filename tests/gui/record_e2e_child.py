"""Child process of test_gui_record_e2e: record through the REAL sounddevice/PortAudio
from the default input while a tone plays into the default output, print JSON.

Run with a PulseAudio server whose default sink is a null sink and whose default
source is that sink's monitor (see the test for the recipe).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    from gui.app import make_app

    app = make_app()
    import sounddevice as sd

    from gui.main_window import MainWindow

    def spin(cond, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    w = MainWindow()
    out: dict = {"record_enabled": w.actions["record"].isEnabled(),
                 "play_available": w.player.available}
    dlg = w.record()
    out["device"] = dlg.device_box.currentText()
    rate = 16000
    t = np.arange(int(4.0 * rate)) / rate
    tone = (0.3 * np.sin(2 * np.pi * 523.25 * t)).astype(np.float32)
    out["started"] = dlg.start()
    sd.play(tone, rate)  # into the null sink; its monitor is the default source
    spin(lambda: dlg._n >= 2.0 * dlg.rate, 10.0)
    dlg.stop()
    sd.stop()
    out["rate"] = dlg.rate
    out["seconds"] = dlg.samples.size / dlg.rate
    out["peak"] = float(np.abs(dlg.samples).max()) if dlg.samples.size else 0.0
    out["meter"] = dlg.meter.value()
    dlg.use_button.click()
    spin(lambda: w.audio is not None, 20.0)
    y = np.asarray(w.audio.mono()) if w.audio is not None else np.zeros(0)
    seg = y[8000:]
    out["audio_seconds"] = y.size / 16000
    out["freq"] = float(np.argmax(np.abs(np.fft.rfft(seg))) * 16000 / seg.size) if seg.size else 0.0
    print(json.dumps(out))
    w.close()


if __name__ == "__main__":
    main()
