"""Peak memory of identification on a long file read in blocks.

Writes a generated recording to ``--path`` (16 kHz mono FLAC; default 24 h): mostly
low noise (-80 dBFS: the file stays small, and chunks under -60 dBFS peak skip segmentation) with ``--speech-every`` minutes a
``--speech-seconds`` stretch of tiled real speech. Then runs
:func:`engine.identify.identify` on the *path* (the engine streams it with
``engine.audio.iter_blocks``) against a two-speaker library and prints the time,
the peak RSS of the process and the bound it must stay under.

Bound: 1.5 GB peak RSS for 24 h (models ~0.5 GB; per-chunk results and the 0.02 s
confidence track grow with duration: ~7 MB/h at most).

    python bench/bench_longaudio.py                # 24 h (slow: decode + segmentation)
    python bench/bench_longaudio.py --hours 2      # quicker check
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from engine.encoder import default_encoder  # noqa: E402
from engine.identify import identify  # noqa: E402
from engine.voiceprint import Voiceprint  # noqa: E402
from tests import _helpers_identify as H  # noqa: E402

BOUND_BYTES = 1.5e9


def rss_now() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:  # pragma: no cover
        return 0


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def make_file(path: Path, hours: float, every_min: float, speech_s: float,
              noise_dbfs: float = -80.0) -> None:
    """Write the recording; a louder ``noise_dbfs`` makes a bigger FLAC (-67: ~1 GiB / 24 h)."""
    rng = np.random.default_rng(0)
    speech, _ = H.tiled_speech(speech_s, seed=3)
    total = int(hours * 3600 * H.SR)
    period = int(every_min * 60 * H.SR)
    block = 60 * H.SR
    with sf.SoundFile(path, "w", samplerate=H.SR, channels=1, format="FLAC", subtype="PCM_16") as f:
        pos = 0
        while pos < total:
            n = min(block, total - pos)
            x = rng.normal(0, 10 ** (noise_dbfs / 20), n).astype(np.float32)
            # drop speech into the first `speech_s` seconds of every period
            off = pos % period
            if off < speech.shape[0]:
                m = min(n, speech.shape[0] - off)
                x[:m] += speech[off : off + m]
            f.write(x)
            pos += n


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--speech-every", type=float, default=30.0, help="minutes")
    ap.add_argument("--speech-seconds", type=float, default=60.0)
    ap.add_argument("--path", type=Path, default=None)
    args = ap.parse_args()
    path = args.path or Path(f"/tmp/vpstudio_long_{args.hours:g}h.flac")
    if not path.exists():
        t0 = time.perf_counter()
        make_file(path, args.hours, args.speech_every, args.speech_seconds)
        print(
            f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s"
        )
    print(
        f"file: {path}, {path.stat().st_size / 2**20:.0f} MiB, {sf.info(str(path)).duration / 3600:.2f} h"
    )

    enc = default_encoder()
    lib = {
        name: Voiceprint(enc.embed(H.clip(spk, "enroll")[None])[0], enc.model_id)
        for name, spk in (("alice", "A"), ("bob", "B"))
    }
    base = rss_now()
    peak_before = peak_rss()
    sampled = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            sampled.append(rss_now())

    threading.Thread(target=sample, daemon=True).start()
    last = [0.0]

    def progress(f: float, m: str = "") -> None:
        if f - last[0] >= 0.1 or f == 1.0:
            last[0] = f
            print(f"  {f:4.0%} {m} rss {rss_now() / 1e6:.0f} MB", flush=True)

    t0 = time.perf_counter()
    r = identify(path, lib, encoder=enc, progress=progress)
    dt = time.perf_counter() - t0
    done.set()
    # ru_maxrss is the lifetime peak: only trust it when identify raised it
    peak_after = peak_rss()
    peak = max(sampled) if peak_after <= peak_before else max(peak_after, max(sampled))
    print(
        f"identify: {dt:.0f} s for {r.duration / 3600:.2f} h, {len(r.turns)} turns, "
        f"{r.num_speakers} speakers; confidence frames {r.confidence.num_frames if r.confidence else 0}"
    )
    print(
        f"RSS before identify {base / 1e6:.0f} MB (lifetime peak so far {peak_before / 1e6:.0f} MB, "
        f"model loading), peak during identify {peak / 1e6:.0f} MB "
        f"(bound {BOUND_BYTES / 1e9:.1f} GB): {'OK' if peak <= BOUND_BYTES else 'OVER'}"
    )
    sys.exit(0 if peak <= BOUND_BYTES else 1)


if __name__ == "__main__":
    main()
