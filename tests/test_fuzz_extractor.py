"""Fuzzing the voiceprint extractor: whatever audio comes in, only typed errors come out.

Random arrays (silence, noise, clicks, NaN/inf, huge values, odd rates and channel
counts) go through ``load_audio`` and then ``extract_voiceprint`` with the real VAD
and a stub encoder (the model's numbers are not what is fuzzed here; the paths
around it are). An accepted input must give a finite unit voiceprint and a
quality report whose figures are finite and whose verdict is one of the four.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audio import Limits, load_audio
from engine.enroll import extract_voiceprint
from engine.errors import VPError

LIMITS = Limits(max_seconds=30.0, max_bytes=1 << 24)
VERDICTS = {"ok", "too-short", "too-noisy", "several-voices"}


class _UnitEncoder:
    model_id = "fuzz-stub"
    dim = 8
    sample_rate = 16000

    def embed(self, windows: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        assert windows.ndim == 2 and np.isfinite(windows).all()
        # a different direction per window energy, so clustering has something to do
        e = np.log1p(np.abs(windows).mean(axis=1, keepdims=True) * 1e3)
        v = np.hstack([np.ones_like(e), e, np.zeros((len(e), 6), np.float32)]).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


@st.composite
def signals(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    rate = draw(st.sampled_from([8000, 16000, 22050, 44100]))
    seconds = draw(st.floats(0.0, 6.0))
    channels = draw(st.integers(1, 3))
    n = int(seconds * rate)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["silence", "noise", "tone-bursts", "clicks", "huge"]))
    t = np.arange(n) / rate
    if kind == "silence":
        x = np.zeros((n, channels))
    elif kind == "noise":
        x = rng.standard_normal((n, channels)) * draw(st.floats(1e-6, 2.0))
    elif kind == "tone-bursts":
        env = (np.sin(2 * np.pi * 2.0 * t) > 0).astype(float)
        x = np.repeat((env * np.sin(2 * np.pi * 180 * t))[:, None], channels, axis=1)
    elif kind == "clicks":
        x = np.zeros((n, channels))
        x[:: max(1, rate // 7)] = 1.0
    else:
        x = rng.standard_normal((n, channels)) * 1e30
    if n and draw(st.booleans()):
        x[draw(st.integers(0, n - 1)), 0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return x.astype(draw(st.sampled_from([np.float32, np.float64]))), rate


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(signals(), st.sampled_from(["mix", "split"]))
def test_extractor_gives_typed_errors_only(sig: tuple[np.ndarray, int], mode: str) -> None:
    x, rate = sig
    try:
        audio = load_audio(x, limits=LIMITS, sample_rate=rate, channel_mode=mode)  # type: ignore[arg-type]
        res = extract_voiceprint(audio, encoder=_UnitEncoder(), channel=0)
    except VPError as exc:
        assert exc.type and exc.message
        return
    v = res.voiceprint.vector
    assert v.shape == (8,) and np.isfinite(v).all()
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-4
    q = res.quality
    assert q.verdict in VERDICTS and q.net_speech_s >= 0
    assert np.isfinite([q.net_speech_s, q.clipping_ratio, q.level_dbfs]).all()
