"""Real-time factor of diarization + identification, and of the naive approach.

Builds a recording by tiling real speech (tests/_helpers_identify.py: the pyannote
sample's two speakers and two CMU ARCTIC voices, with random gain, speed and gaps),
runs :func:`engine.identify.identify` against a library of the two enrolled
speakers, and prints the time and RTF (processing time / audio duration). Then it
times the naive approach the issue compares against: one ECAPA call per 1.5 s
window over all the speech (no batching, no segmentation), on the first
``--naive-minutes`` and extrapolated to the whole recording.

    python bench/bench_identify.py                 # 60 min recording
    python bench/bench_identify.py --minutes 10    # shorter run, RTF extrapolates linearly
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from engine.audio import Audio  # noqa: E402
from engine.encoder import default_encoder  # noqa: E402
from engine.identify import identify  # noqa: E402
from engine.voiceprint import Voiceprint  # noqa: E402
from tests import _helpers_identify as H  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--naive-minutes", type=float, default=2.0)
    args = ap.parse_args()

    enc = default_encoder()
    lib = {
        name: Voiceprint(enc.embed(H.clip(spk, "enroll")[None])[0], enc.model_id)
        for name, spk in (("alice", "A"), ("bob", "B"))
    }
    x, truth = H.tiled_speech(args.minutes * 60, seed=1)
    dur = x.shape[0] / H.SR
    speech = sum(b - a for a, b, _ in truth)
    print(f"recording: {dur / 60:.1f} min, {speech / 60:.1f} min of speech (tiled real speech)")
    print(f"cpu cores visible: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")

    t0, c0 = time.perf_counter(), time.process_time()
    r = identify(Audio(x[None]), lib, encoder=enc)
    dt, ct = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"identify: {dt:.1f} s wall ({ct:.1f} s CPU) for {dur:.0f} s -> RTF {dt / dur:.4f} "
        f"({dt / dur * 3600:.0f} s per hour of audio; CPU/2 cores: {ct / 2 / dur * 3600:.0f} s "
        f"per hour); {r.num_speakers} speakers, {len(r.turns)} turns"
    )

    # naive: one encoder call per 1.5 s window over all speech of the first minutes
    win = int(1.5 * H.SR)
    limit = args.naive_minutes * 60
    windows = []
    for a, b, _ in truth:
        if a >= limit:
            break
        s, e = int(a * H.SR), int(min(b, limit) * H.SR)
        for w0 in range(s, e - win + 1, win):
            windows.append(x[w0 : w0 + win])
    t0, c0 = time.perf_counter(), time.process_time()
    for w in windows:
        enc.embed(w[None])
    nt, nct = time.perf_counter() - t0, time.process_time() - c0
    covered = min(limit, dur)
    # extrapolate per second of speech (the naive cost follows speech, not duration)
    speech_covered = len(windows) * 1.5
    naive_total = nt / max(speech_covered, 1e-9) * speech
    naive_cpu = nct / max(speech_covered, 1e-9) * speech
    naive_rtf = naive_total / dur
    print(
        f"naive (one encoder call per 1.5 s speech window, {len(windows)} windows over the "
        f"first {covered / 60:.1f} min): {nt:.1f} s wall ({nct:.1f} s CPU); extrapolated to all "
        f"{speech:.0f} s of speech: {naive_total:.0f} s -> RTF {naive_rtf:.4f} "
        f"({naive_rtf * 3600:.0f} s per hour)"
    )
    print(f"ratio naive / identify: {naive_rtf / (dt / dur):.1f}x wall, {naive_cpu / ct:.1f}x CPU")
    assert np.isfinite(dt)


if __name__ == "__main__":
    main()
