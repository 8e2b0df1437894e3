"""Real-time factor of diarization + identification, against the slower alternatives.

Builds a recording by tiling real speech (tests/_helpers_identify.py: the pyannote
sample's two speakers and two CMU ARCTIC voices, with random gain, speed and gaps),
runs :func:`engine.identify.identify` against a library of the two enrolled
speakers, and prints the time, the RTF (processing time / audio duration), where
the time goes (segmentation, CAM++ diarization embeddings, ECAPA identification
embeddings) and the DER against the tiling's exact truth. Then, for comparison:

- the same pipeline with ECAPA for the diarization embeddings too (the single-model
  path used when CAM++ is not installed), on the first ``--ecapa-minutes``;
- the naive approach: one ECAPA call per 1.5 s window over all the speech (no
  batching, no segmentation), on the first ``--naive-minutes``.

Both are extrapolated linearly to the whole recording.

    python bench/bench_identify.py                 # 60 min recording
    python bench/bench_identify.py --minutes 10    # shorter run
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

from engine.audio import Audio  # noqa: E402
from engine.campp import default_diarization_encoder  # noqa: E402
from engine.encoder import default_encoder  # noqa: E402
from engine.identify import identify  # noqa: E402
from engine.segmentation import default_segmenter  # noqa: E402
from engine.voiceprint import Voiceprint  # noqa: E402
from tests import _helpers_identify as H  # noqa: E402


class _Timed:
    """Wraps one model method, adding up its wall time and the audio it saw."""

    def __init__(self, obj: Any, name: str) -> None:
        self.seconds = 0.0
        self.audio = 0.0
        inner = getattr(obj, name)

        def timed(x: np.ndarray, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(x, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                lens = kwargs.get("lengths")
                self.audio += (float(np.sum(lens)) if lens is not None else x.size) / H.SR

        setattr(obj, name, timed)


def _der(truth: list[tuple[float, float, str]], turns: Any) -> float | None:
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_accuracy import der
    except ImportError:  # pyannote.metrics is a bench extra
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return der(truth, [(t.start, t.end, t.cluster) for t in turns])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--naive-minutes", type=float, default=2.0)
    ap.add_argument("--ecapa-minutes", type=float, default=10.0)
    args = ap.parse_args()

    enc = default_encoder()
    dia = default_diarization_encoder()
    seg = default_segmenter()
    lib = {
        name: Voiceprint(enc.embed(H.clip(spk, "enroll")[None])[0], enc.model_id)
        for name, spk in (("alice", "A"), ("bob", "B"))
    }
    x, truth = H.tiled_speech(args.minutes * 60, seed=1)
    dur = x.shape[0] / H.SR
    speech = sum(b - a for a, b, _ in truth)
    print(f"recording: {dur / 60:.1f} min, {speech / 60:.1f} min of speech (tiled real speech)")
    print(f"cpu cores visible: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}")
    identify(Audio(x[None, : 20 * H.SR]), lib)  # warm-up: model loads are not timed

    t_seg, t_dia, t_ecapa = _Timed(seg, "run"), _Timed(dia, "embed"), _Timed(enc, "embed")
    t0, c0 = time.perf_counter(), time.process_time()
    r = identify(Audio(x[None]), lib)
    dt, ct = time.perf_counter() - t0, time.process_time() - c0
    per_h = 3600 / dur
    print(
        f"identify: {dt:.1f} s wall ({ct:.1f} s CPU) for {dur:.0f} s -> RTF {dt / dur:.4f} "
        f"({dt * per_h:.0f} s per hour of audio); {r.num_speakers} speakers "
        f"(truth {len({s for _, _, s in truth})}), {len(r.turns)} turns"
    )
    other = dt - t_seg.seconds - t_dia.seconds - t_ecapa.seconds
    print(
        f"  where the time goes: segmentation {t_seg.seconds:.1f} s, CAM++ {t_dia.seconds:.1f} s "
        f"({t_dia.audio:.0f} s of audio, {t_dia.seconds / max(t_dia.audio, 1e-9):.3f} s/s), "
        f"ECAPA {t_ecapa.seconds:.1f} s ({t_ecapa.audio:.0f} s of audio, "
        f"{t_ecapa.seconds / max(t_ecapa.audio, 1e-9):.3f} s/s), the rest {other:.1f} s"
    )
    d = _der(truth, r.turns)
    if d is not None:
        print(f"  DER against the tiling's truth (collar 0, overlap scored): {d:.3f}")

    if args.ecapa_minutes > 0:
        n = int(min(args.ecapa_minutes * 60, dur) * H.SR)
        t0 = time.perf_counter()
        r1 = identify(Audio(x[None, :n]), lib, diarization_encoder=enc)
        e_dt = (time.perf_counter() - t0) / (n / H.SR)
        sub = [(a, min(b, n / H.SR), s) for a, b, s in truth if a < n / H.SR]
        d1, d2 = _der(sub, r1.turns), _der(sub, identify(Audio(x[None, :n]), lib).turns)
        ders = f"; DER {d1:.3f} (CAM++ path on the same minutes: {d2:.3f})" if d1 is not None else ""
        print(
            f"single-model path (ECAPA for clustering too), first {n / H.SR / 60:.1f} min: "
            f"RTF {e_dt:.4f} ({e_dt * 3600:.0f} s per hour){ders}"
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
    nt = time.perf_counter() - t0
    covered = min(limit, dur)
    # extrapolate per second of speech (the naive cost follows speech, not duration)
    naive_total = nt / max(len(windows) * 1.5, 1e-9) * speech
    naive_rtf = naive_total / dur
    print(
        f"naive (one ECAPA call per 1.5 s speech window, {len(windows)} windows over the "
        f"first {covered / 60:.1f} min): {nt:.1f} s; extrapolated to all {speech:.0f} s of "
        f"speech: {naive_total:.0f} s -> RTF {naive_rtf:.4f} ({naive_rtf * 3600:.0f} s per hour)"
    )
    print(f"ratio naive / identify: {naive_rtf / (dt / dur):.1f}x")


if __name__ == "__main__":
    main()
