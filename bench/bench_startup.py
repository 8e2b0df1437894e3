"""Start-up cost: whole-process wall time of short jobs, the PyTorch path against ONNX.

Each measurement is a fresh Python process, timed from launch to exit, once with the
old path (``VPSTUDIO_ENCODER_BACKEND=torch``: ECAPA in PyTorch/SpeechBrain, CAM++
features in torchaudio) and once with the new one (ONNX Runtime, numpy features; no
torch import), alternating, ``--repeat`` times each; medians are printed with the
old/new ratio. Both paths run in the same invocation, so machine load affects both.

- ``vpstudio enroll`` of a 10 s single-speaker clip (real speech: the first 10 s of
  tests/data/calib_librivox_austen.ogg);
- ``vpstudio identify`` of a ~90 s conversation tiled from the real clips
  (tests/_helpers_identify.py) against a library of two enrolled speakers;
- the window (offscreen): process start -> window shown -> first enrollment from a
  file done (voiceprint in the library), and -> the 30 s pyannote sample opened and
  its first identification shown. The "user" acts as soon as the window is shown, so
  whatever the background warm-up has not loaded yet is still waited for.

The model caches (ONNX exports) are built before timing; the one-time conversion is
timed separately (``--export``: an empty cache folder, both models).

    python bench/bench_startup.py              # CLI and window, 3 runs each
    python bench/bench_startup.py --repeat 5 --export
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"

_WINDOW_SCRIPT = r"""
import sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1] + "/tests")
from _helpers_gui import FakePrompts, FakeSoundDevice
sys.modules["sounddevice"] = FakeSoundDevice(with_input=False)
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui.main_window import MainWindow
mode, path = sys.argv[2], sys.argv[3]
w = MainWindow(prompts=FakePrompts(texts=["Bench"]))
w.show()
app.processEvents()
shown = time.perf_counter()
if mode == "enroll":
    w.enroll_from_file(path)
    done = lambda: len(w.speakers) == 1
else:
    w.open_path(path)
    while w.audio is None and not w.prompts.errors:
        app.processEvents(); time.sleep(0.005)
    w.run_identify()
    done = lambda: w.review is not None
while not done():
    if w.prompts.errors:
        raise SystemExit(f"failed: {w.prompts.errors}")
    app.processEvents(); time.sleep(0.005)
end = time.perf_counter()
print(f"RESULT {shown - t0:.3f} {end - shown:.3f}")
w.close()
"""


def _env(backend: str, home: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), VPSTUDIO_HOME=str(home),
               VPSTUDIO_CACHE=str(cache), QT_QPA_PLATFORM="offscreen")
    env.pop("VPSTUDIO_ENCODER_BACKEND", None)
    if backend == "torch":
        env["VPSTUDIO_ENCODER_BACKEND"] = "torch"
    return env


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine.cli", *args]


def _prepare(tmp: Path) -> dict[str, Path]:
    import numpy as np

    from engine.audio import VOICEPRINT_LIMITS, load_audio, save_wav
    from tests._helpers_identify import tiled_speech

    def write(name: str, x: np.ndarray) -> Path:
        path = tmp / name
        save_wav(path, x.astype(np.float32))
        return path

    austen = load_audio(DATA / "calib_librivox_austen.ogg", limits=VOICEPRINT_LIMITS)
    cards = load_audio(DATA / "calib_cards.ogg", limits=VOICEPRINT_LIMITS)
    conv, _ = tiled_speech(90.0, seed=3)
    return {
        "enroll": write("enroll10s.wav", austen.samples[0, : 10 * 16000]),
        "enroll2": write("enroll2.wav", cards.samples[0, : 10 * 16000]),
        "conversation": write("conversation.wav", conv),
        "sample": DATA / "pyannote_sample.wav",
    }


def _line(what: str, old: list[float], new: list[float]) -> None:
    mo, mn = statistics.median(old), statistics.median(new)
    print(f"{what:<44} {mo:8.2f} s {mn:8.2f} s {mo / mn:7.1f}x   "
          f"(old {' '.join(f'{v:.2f}' for v in old)}; new {' '.join(f'{v:.2f}' for v in new)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-window", action="store_true", help="skip the window measurements")
    ap.add_argument("--export", action="store_true",
                    help="also time the one-time ONNX conversion in an empty cache")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as t:
        tmp = Path(t)
        clips = _prepare(tmp)
        cache = Path(os.environ.get("VPSTUDIO_CACHE") or tmp / "cache")
        if args.export:
            fresh = tmp / "fresh-cache"
            wall, _ = _run(_cli("--home", str(tmp / "h0"), "enroll", "x", str(clips["enroll"])),
                           _env("onnx", tmp / "h0", fresh))
            print(f"one-time conversion + enroll, empty cache: {wall:.1f} s "
                  "(ECAPA export; CAM++ exports at the first identify)")
        homes = {b: tmp / f"home-{b}" for b in ("torch", "onnx")}
        for backend, home in homes.items():  # untimed: caches built, libraries filled
            env = _env(backend, home, cache)
            _run(_cli("enroll", "austen", str(clips["enroll"])), env)
            _run(_cli("enroll", "cards", str(clips["enroll2"])), env)
            _run(_cli("identify", str(clips["sample"])), env)

        times: dict[str, dict[str, list[float]]] = {}

        def record(key: str, backend: str, value: float) -> None:
            times.setdefault(key, {"torch": [], "onnx": []})[backend].append(value)

        for rep in range(args.repeat):
            for backend, home in homes.items():
                env = _env(backend, home, cache)
                wall, _ = _run(_cli("voiceprint", str(clips["enroll"]), "-o",
                                    str(tmp / f"{backend}.vp")), env)
                record("vpstudio voiceprint, 10 s clip (process)", backend, wall)
                wall, _ = _run(_cli("enroll", "again", str(clips["enroll"])), env)
                record("vpstudio enroll, 10 s clip (process)", backend, wall)
                _run(_cli("delete", "again", "--yes"), env)
                wall, _ = _run(_cli("identify", str(clips["conversation"])), env)
                record("vpstudio identify, 90 s conversation (process)", backend, wall)
                if args.no_window:
                    continue
                for mode, clip in (("enroll", clips["enroll"]), ("identify", clips["sample"])):
                    wall, out = _run([sys.executable, "-c", _WINDOW_SCRIPT, str(ROOT), mode,
                                      str(clip)],
                                     # an empty library each time: "first enrollment"
                                     _env(backend, tmp / f"win-{backend}-{mode}-{rep}", cache))
                    shown, first = (float(v) for v in out.split("RESULT")[1].split())
                    label = "enrollment (10 s file)" if mode == "enroll" else \
                        "identify (30 s sample)"
                    record("window: open -> shown", backend, shown)
                    record(f"window: shown -> first {label}", backend, first)

        print(f"\n{'median of ' + str(args.repeat):<44} {'old':>10} {'new':>10} {'old/new':>8}")
        for key, by in times.items():
            _line(key, by["torch"], by["onnx"])


if __name__ == "__main__":
    main()
