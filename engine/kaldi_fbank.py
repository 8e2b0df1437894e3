"""Kaldi log-mel filterbank features in numpy (the CAM++ front end, without torch).

The same computation as ``torchaudio.compliance.kaldi.fbank`` with the options CAM++
was trained with (25 ms povey-windowed frames every 10 ms, ``snip_edges``, DC offset
removed, pre-emphasis 0.97, 512-point FFT power spectrum, 80 triangular mel bands from
20 Hz to Nyquist, natural log floored at float32 epsilon, no dither, no energy).
``tests/test_kaldi_fbank.py`` checks it against torchaudio on real speech.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms at 16 kHz
SHIFT = 160  # 10 ms
FFT = 512  # the frame length rounded up to a power of two
LOW_HZ = 20.0
PREEMPHASIS = 0.97
_EPS = float(np.finfo(np.float32).eps)


def _mel(f: np.ndarray) -> np.ndarray:
    return 1127.0 * np.log1p(f / 700.0)


@functools.lru_cache(maxsize=4)
def mel_banks(bands: int) -> np.ndarray:
    """float32 ``(FFT // 2 + 1, bands)`` triangular mel weights (Kaldi's, Nyquist bin 0)."""
    lo, hi = _mel(np.array(LOW_HZ)), _mel(np.array(SAMPLE_RATE / 2))
    delta = (hi - lo) / (bands + 1)
    b = np.arange(bands, dtype=np.float64)[:, None]
    left, centre, right = lo + b * delta, lo + (b + 1) * delta, lo + (b + 2) * delta
    mel = _mel(SAMPLE_RATE / FFT * np.arange(FFT // 2, dtype=np.float64))[None, :]
    w = np.maximum(0.0, np.minimum((mel - left) / (centre - left), (right - mel) / (right - centre)))
    out = np.zeros((FFT // 2 + 1, bands))
    out[: FFT // 2] = w.T
    banks = out.astype(np.float32)
    banks.setflags(write=False)
    return banks


@functools.lru_cache(maxsize=1)
def _povey() -> np.ndarray:
    n = np.arange(FRAME, dtype=np.float64)
    w = ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85).astype(np.float32)
    w.setflags(write=False)
    return w


def fbank(samples: np.ndarray, bands: int = 80) -> np.ndarray:
    """Log-mel filterbank energies of one signal.

    Args:
        samples: ``(n,)`` mono audio at 16 kHz on Kaldi's 16-bit scale (float values
            in about [-32768, 32767]), n >= 400.
        bands: number of mel bands.

    Returns:
        float32 ``(frames, bands)`` natural-log energies, ``frames = 1 + (n - 400) // 160``.
    """
    # float32 throughout, as Kaldi and torchaudio compute (and twice as fast as float64)
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1 or x.shape[0] < FRAME:
        raise ValueError(f"fbank needs (n,) samples with n >= {FRAME}; got {x.shape}")
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::SHIFT]
    frames = frames - frames.mean(axis=1, keepdims=True)
    prev = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = (frames - np.float32(PREEMPHASIS) * prev) * _povey()
    spec = np.fft.rfft(frames, n=FFT, axis=1)
    power = spec.real**2 + spec.imag**2
    return np.log(np.maximum(power @ mel_banks(bands), np.float32(_EPS))).astype(np.float32)
