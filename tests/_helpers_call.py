"""``tests/data/call_stereo.ogg``: a two-party "call", one real voice per channel.

The file is built from two real recordings already in ``tests/data`` (see its
README); rebuild it from the repository root with ``python -m tests._helpers_call``.
:data:`LAYOUT` is the exact truth the tests check against; the parts of the sources
left out of the call (:data:`ENROLL`) are what the tests enroll from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

DATA = Path(__file__).resolve().parent / "data"
SR = 16000
OUT = DATA / "call_stereo.ogg"
# channel -> (source file, [(source start, source end, start in the call)]), seconds
LAYOUT: dict[int, tuple[str, list[tuple[float, float, float]]]] = {
    0: ("calib_librivox_austen.ogg", [(0.2, 6.8, 0.0), (10.4, 15.2, 10.0)]),
    1: ("calib_chan3.ogg", [(2.9, 6.8, 6.2), (8.0, 10.6, 14.3)]),
}
# channel -> source stretches never put in the call (for enrollment)
ENROLL: dict[int, tuple[str, list[tuple[float, float]]]] = {
    0: ("calib_librivox_austen.ogg", [(15.6, 24.7)]),
    1: ("calib_chan3.ogg", [(0.2, 1.7), (17.0, 20.8)]),
}
SECONDS = 17.5
NAMES = {0: "Austen Reader", 1: "Chan3 Caller"}  # names the tests enroll them as


def read(name: str) -> np.ndarray:
    x, sr = sf.read(DATA / name, dtype="float32", always_2d=True)
    assert sr == SR
    return x.mean(axis=1)


def enrollment_clip(channel: int) -> np.ndarray:
    """float32 ``(n,)`` 16 kHz: the speech of ``channel``'s voice that is not in the call."""
    name, parts = ENROLL[channel]
    x = read(name)
    return np.concatenate([x[int(a * SR) : int(b * SR)] for a, b in parts])


def truth(channel: int) -> list[tuple[float, float]]:
    """``(start, end)`` seconds in the call of each stretch placed on ``channel``."""
    return [(at, at + b - a) for a, b, at in LAYOUT[channel][1]]


def build() -> np.ndarray:
    """float32 ``(2, n)`` at 16 kHz."""
    out = np.zeros((2, int(SECONDS * SR)), dtype=np.float32)
    for ch, (name, parts) in LAYOUT.items():
        x = read(name)
        for a, b, at in parts:
            piece = x[int(a * SR) : int(b * SR)]
            i = int(at * SR)
            out[ch, i : i + piece.size] += piece
    # a quiet noise floor on both lines, as a real call has (fixed seed: reproducible)
    out += np.random.default_rng(11).normal(0.0, 1e-3, out.shape).astype(np.float32)
    return np.clip(out, -1.0, 1.0)


if __name__ == "__main__":
    sf.write(OUT, build().T, SR, format="OGG", subtype="VORBIS", compression_level=0.5)
    print(OUT, OUT.stat().st_size, "bytes")
