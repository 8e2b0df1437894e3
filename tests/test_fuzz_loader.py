"""Fuzzing: hostile bytes and arrays give typed errors (VPError), never a crash or a hang.

Hypothesis throws at the loader: random bytes, valid WAV/FLAC files with bytes
mutated or cut, and random arrays (NaN, inf, empty, huge, odd shapes and dtypes);
and at the voiceprint decoder: random and mutated blobs. Small limits keep every
example quick even when a mutated header claims hours of audio.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.audio import Audio, Limits, load_audio
from engine.errors import VPError
from engine.voiceprint import Voiceprint

LIMITS = Limits(max_seconds=5.0, max_bytes=1 << 20)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # CI runs the same examples every time
    database=None,
)


def _encoded(fmt: str, subtype: str, rate: int, channels: int) -> bytes:
    x = np.random.default_rng(0).standard_normal((rate // 4, channels)).astype(np.float32) * 0.1
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


SEEDS = [
    _encoded("WAV", "PCM_16", 16000, 1),
    _encoded("WAV", "FLOAT", 44100, 2),
    _encoded("FLAC", "PCM_16", 8000, 1),
    _encoded("OGG", "VORBIS", 16000, 1),
]
VP_SEED = Voiceprint(np.random.default_rng(1).standard_normal(32), "ecapa-fuzz").to_bytes()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid file with a few bytes overwritten, then maybe cut short."""
    b = bytearray(draw(st.sampled_from(seeds)))
    # Mostly hit the header, where parsers branch.
    for _ in range(draw(st.integers(1, 8))):
        hi = len(b) - 1 if draw(st.booleans()) else min(len(b) - 1, 64)
        b[draw(st.integers(0, hi))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        b = b[: draw(st.integers(0, len(b)))]
    return bytes(b)


def _check_audio(out: Audio) -> None:
    """Whatever decodes must honour the contract."""
    assert out.samples.dtype == np.float32 and out.samples.ndim == 2
    assert out.samples.shape[1] > 0 and np.isfinite(out.samples).all()
    assert out.duration <= LIMITS.max_seconds + 1.0


@FUZZ
@given(st.one_of(st.binary(max_size=4096), mutated(SEEDS)))
def test_loader_bytes(data: bytes) -> None:
    try:
        out = load_audio(data, limits=LIMITS)
    except VPError:
        return
    _check_audio(out)


@FUZZ
@given(
    st.one_of(
        hnp.arrays(
            dtype=st.sampled_from([np.float32, np.float64, np.float16]),
            shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=64),
            elements=st.floats(allow_nan=True, allow_infinity=True, width=16),
        ),
        hnp.arrays(
            dtype=np.float64,
            shape=st.integers(0, 2000),
            elements=st.floats(-1e308, 1e308, allow_nan=False),
        ),
        hnp.arrays(
            dtype=st.sampled_from([np.int16, np.int32, np.uint8, np.bool_, np.complex64]),
            shape=st.integers(0, 50),
        ),
    ),
    st.sampled_from([None, 8000, 16000, 44100, 0, -5, 10**9]),
    st.sampled_from(["mix", "split"]),
    st.one_of(st.none(), st.lists(st.integers(-2, 4), max_size=4)),
)
def test_loader_arrays(
    x: np.ndarray, rate: int | None, mode: str, channels: list[int] | None
) -> None:
    try:
        out = load_audio(x, limits=LIMITS, sample_rate=rate, channel_mode=mode, channels=channels)  # type: ignore[arg-type]
    except VPError:
        return
    _check_audio(out)


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated([VP_SEED])))
def test_voiceprint_blobs(data: bytes) -> None:
    try:
        vp = Voiceprint.from_bytes(data)
    except VPError:
        return
    assert vp.vector.dtype == np.float32 and np.isfinite(vp.vector).all()
    assert abs(float(np.linalg.norm(vp.vector.astype(np.float64))) - 1.0) < 1e-5


@settings(FUZZ, max_examples=100)
@given(st.text(max_size=300))
def test_voiceprint_base64(text: str) -> None:
    try:
        Voiceprint.from_base64(text)
    except VPError:
        pass


def test_mutations_do_decode_sometimes() -> None:
    """Guard against a fuzz test that only ever sees instant rejections."""
    assert load_audio(SEEDS[0], limits=LIMITS).duration == pytest.approx(0.25)
    assert Voiceprint.from_bytes(VP_SEED).model_id == "ecapa-fuzz"
