"""Peak memory and time to overview of the real window on a 24 h recording (issue 13).

Writes a generated 24 h 16 kHz FLAC with :func:`bench.bench_longaudio.make_file` (the
same recording as ``bench_longaudio.py``: low noise with a minute of real speech every
30 min; ``--noise-dbfs -67`` makes the noise louder and the file ~1 GiB, the input
limit), then starts the real app offscreen in a child process (``make_app`` +
``MainWindow`` on the real engine, a fresh data folder and peak cache) and, in it:

1. opens the file (``open_path``, as File > Open does) and waits for ``audioLoaded``:
   the **time to overview** (the peak pyramid is built in one streaming pass);
2. runs Identify (Ctrl+R) on it, for at most ``--identify-seconds`` (then cancels, and
   says how far it got);
3. closes, and a second child opens the same file again: the time to overview **from
   the cache**.

The parent samples each child's RSS with psutil every 0.2 s and prints the peak.

    python bench/bench_window_long.py                    # 24 h, 661 MiB FLAC
    python bench/bench_window_long.py --noise-dbfs -67   # 24 h, ~1 GiB FLAC
    python bench/bench_window_long.py --hours 2          # quicker

A first child only starts the window and lets it load its models (a user's usual
state: models installed, their ONNX exports cached), so that the measured runs do not
pay the one-time export.

Bounds (issue 13): overview within 120 s, peak RSS of the window <= 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OVERVIEW_BOUND_S = 120.0
RSS_BOUND_BYTES = 2e9


def child(path: str, identify_seconds: float) -> int:
    """Runs in the child: the real window, offscreen. Prints one JSON line per event."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gui.app import make_app

    def say(**kw: object) -> None:
        print(json.dumps(kw), flush=True)

    app = make_app()
    from gui.main_window import MainWindow

    w = MainWindow(offer_restore=False)
    w.show()
    app.processEvents()
    if not path:  # the warm-up run: models loaded (and their ONNX exports cached), no file
        t0 = time.perf_counter()
        while w.bridge.busy and time.perf_counter() - t0 < 600:
            app.processEvents()
            time.sleep(0.05)
        say(event="warm", seconds=time.perf_counter() - t0)
        w.close()
        return 0
    loaded: list[float] = []
    w.audioLoaded.connect(lambda: loaded.append(time.perf_counter()))
    say(event="window", t=0.0)
    t0 = time.perf_counter()
    w.open_path(path)
    while not loaded and (w.bridge.busy or time.perf_counter() - t0 < 1.0):
        app.processEvents()
        time.sleep(0.01)
    if not loaded:
        say(event="error", message=w.status_label.text())
        return 1
    say(event="overview", seconds=loaded[0] - t0, duration=w.audio.duration,
        pyramid_mb=w.pyramid.peaks.nbytes / 1e6, waveform_points=len(w.timeline.wave_curve.getData()[0]))
    if identify_seconds <= 0:
        w.close()
        return 0
    t1 = time.perf_counter()
    last = [0.0]

    def on_progress(snap) -> None:
        if snap.kind == "identify":
            last[0] = max(last[0], float(snap.progress))

    w.bridge.progress.connect(on_progress)
    w.run_identify()
    while (w.review is None or w.bridge.busy) and time.perf_counter() - t1 < identify_seconds:
        app.processEvents()
        time.sleep(0.02)
    done = w.review is not None and not w.bridge.busy
    if not done:
        w.cancel_jobs()
        t2 = time.perf_counter()
        while w.bridge.busy and time.perf_counter() - t2 < 60:
            app.processEvents()
            time.sleep(0.02)
    say(event="identify", finished=done, seconds=time.perf_counter() - t1, progress=last[0],
        turns=len(w.review.turns) if w.review is not None else 0, message=w.status_label.text())
    w.close()
    return 0


def run_child(path: Path, identify_seconds: float, env: dict[str, str]) -> dict[str, object]:
    import psutil

    cmd = [sys.executable, __file__, "--child", str(path) if str(path) != "." else "",
           "--identify-seconds", str(identify_seconds)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    ps = psutil.Process(proc.pid)
    peak = 0
    events: dict[str, object] = {}
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout],  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    while True:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            pass
        while not lines.empty():
            line = lines.get().rstrip("\n")
            try:
                ev = json.loads(line)
            except ValueError:
                print("  child:", line)
                continue
            events[str(ev.pop("event"))] = ev
            print(f"  [{time.perf_counter() - t0:6.1f} s] {line}  (peak RSS so far "
                  f"{peak / 1e6:.0f} MB)", flush=True)
        if proc.poll() is not None and not reader.is_alive() and lines.empty():
            break
        time.sleep(0.2)
    events["peak_rss"] = peak
    events["rc"] = proc.returncode
    events["wall"] = time.perf_counter() - t0
    return events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", metavar="PATH", help=argparse.SUPPRESS)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--noise-dbfs", type=float, default=-80.0,
                    help="noise floor of the generated file (-80: 661 MiB per 24 h; -67: ~1 GiB)")
    ap.add_argument("--identify-seconds", type=float, default=900.0,
                    help="identify for at most this long, then cancel (0: do not identify)")
    ap.add_argument("--path", type=Path, default=None)
    args = ap.parse_args()
    if args.child is not None:
        sys.exit(child(args.child, args.identify_seconds))

    import soundfile as sf

    from bench.bench_longaudio import make_file

    path = args.path or Path(f"/tmp/vpstudio_long_{args.hours:g}h"
                             f"{'' if args.noise_dbfs == -80 else f'_{-args.noise_dbfs:g}dB'}.flac")
    if not path.exists():
        t0 = time.perf_counter()
        make_file(path, args.hours, 30.0, 60.0, noise_dbfs=args.noise_dbfs)
        print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    print(f"file: {path}, {path.stat().st_size / 2**20:.0f} MiB, "
          f"{sf.info(str(path)).duration / 3600:.2f} h; load {os.getloadavg()[0]:.2f}")
    home = tempfile.mkdtemp(prefix="vpstudio-bench-home-")
    cache = tempfile.mkdtemp(prefix="vpstudio-bench-cache-")
    env = dict(os.environ, VPSTUDIO_HOME=home, VPSTUDIO_CACHE=cache, QT_QPA_PLATFORM="offscreen",
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    # a user's usual state: models installed and their ONNX exports cached (one warm-up
    # run with this cache folder), no peaks cached for this file yet
    try:
        print("warm-up run (no file):")
        run_child(Path(""), 0, env)
        assert not any(Path(cache, "peaks").glob("*")), "the warm-up run opened no file"
        print("open + identify (cold peak cache):")
        first = run_child(path, args.identify_seconds, env)
        print("open again (peak cache filled by the first run):")
        second = run_child(path, 0, env)
    finally:  # the throw-away data folder and cache (~160 MB of ONNX exports and peaks)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    ov1 = first.get("overview", {})
    ov2 = second.get("overview", {})
    ident = first.get("identify", {})
    t1 = float(ov1.get("seconds", float("nan")))  # type: ignore[union-attr]
    t2 = float(ov2.get("seconds", float("nan")))  # type: ignore[union-attr]
    peak = max(int(first["peak_rss"]), int(second["peak_rss"]))  # type: ignore[call-overload]
    print(f"time to overview: {t1:.1f} s cold, {t2:.2f} s from the cache "
          f"(bound {OVERVIEW_BOUND_S:.0f} s); pyramid {ov1.get('pyramid_mb', 0):.0f} MB")  # type: ignore[union-attr]
    if ident:
        print(f"identify: {'finished' if ident.get('finished') else 'cancelled'} after "  # type: ignore[union-attr]
              f"{ident.get('seconds', 0):.0f} s at {float(ident.get('progress', 0)):.0%}, "  # type: ignore[union-attr]
              f"{ident.get('turns', 0)} turns")  # type: ignore[union-attr]
    ok = t1 <= OVERVIEW_BOUND_S and peak <= RSS_BOUND_BYTES
    doing = "opening and identifying" if ident else "opening"
    print(f"peak RSS of the window: {peak / 1e6:.0f} MB while {doing}, "
          f"{int(second['peak_rss']) / 1e6:.0f} MB opening from the cache "  # type: ignore[call-overload]
          f"(bound {RSS_BOUND_BYTES / 1e9:.0f} GB): {'OK' if ok else 'OVER'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
