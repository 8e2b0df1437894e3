"""Spectrogram of the visible range only (Qt-free), bounded by the widget's width.

:func:`spectrogram` computes at most ``columns`` short-time spectra spread over
``[t0, t1]``: zoomed in, they are consecutive overlapping frames of the samples
read for that range; zoomed out (the range holds more than ``columns`` frames'
worth of samples), each column reads only its own ``n_fft`` samples, so a view of
a 24 h recording costs as much as a view of 24 s (``columns * n_fft`` samples).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.signal import get_window

Reader = Callable[[int, int], np.ndarray]
"""``read(s0, s1)``: mono float samples ``[s0, s1)`` (clipped to the recording)."""

N_FFT = 512
FLOOR_DB = -100.0


@dataclass(frozen=True)
class Spectrogram:
    """Power in dB, shape ``(len(times), len(freqs))`` float32 (read-only).

    Attributes:
        times: column centres (s), ascending.
        freqs: bin frequencies (Hz), 0 to the Nyquist frequency.
        db: ``10 log10`` power per column and bin, floored at :data:`FLOOR_DB`.
        t0, t1: the time range the columns cover (s).
    """

    times: np.ndarray
    freqs: np.ndarray
    db: np.ndarray
    t0: float
    t1: float

    @property
    def nyquist(self) -> float:
        return float(self.freqs[-1]) if self.freqs.size else 0.0


def spectrogram(read: Reader, sample_rate: int, num_samples: int, t0: float, t1: float,
                columns: int, n_fft: int = N_FFT) -> Spectrogram:
    """Spectrogram of ``[t0, t1]`` seconds of a ``num_samples`` recording at ``sample_rate`` Hz.

    Columns: ``min(columns, frames that fit at a hop of n_fft // 4)``, at least 1
    when the range is not empty; each is a Hann-windowed ``n_fft`` frame centred on
    its time (zero-padded at the ends of the recording).
    """
    nbins = n_fft // 2 + 1
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate).astype(np.float32)
    t0 = max(0.0, float(t0))
    t1 = min(num_samples / sample_rate, float(t1))
    s0, s1 = int(t0 * sample_rate), int(np.ceil(t1 * sample_rate))
    if s1 <= s0 or columns < 1:
        empty = np.zeros((0, nbins), np.float32)
        empty.setflags(write=False)
        return Spectrogram(np.zeros(0), freqs, empty, t0, t1)
    span = s1 - s0
    ncol = int(max(1, min(columns, span // max(n_fft // 4, 1))))
    centres = s0 + (np.arange(ncol) + 0.5) * span / ncol
    starts = np.round(centres).astype(np.int64) - n_fft // 2
    frames = np.zeros((ncol, n_fft), np.float32)
    if span + n_fft <= 4 * ncol * n_fft:
        # zoomed in: one read of the range (plus half a frame each side)
        lo, hi = max(int(starts[0]), 0), min(int(starts[-1]) + n_fft, num_samples)
        block = np.asarray(read(lo, hi), np.float32).reshape(-1)
        for k, st in enumerate(starts):
            a, b = max(int(st), lo), min(int(st) + n_fft, lo + block.size)
            if b > a:
                frames[k, a - st:b - st] = block[a - lo:b - lo]
    else:
        for k, st in enumerate(starts):  # zoomed out: only the samples each column shows
            a, b = max(int(st), 0), min(int(st) + n_fft, num_samples)
            if b > a:
                x = np.asarray(read(a, b), np.float32).reshape(-1)
                frames[k, a - st:a - st + x.size] = x
    win = get_window("hann", n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * win, axis=1)) ** 2 / float(np.sum(win**2))
    db = (10.0 * np.log10(np.maximum(power, 10 ** (FLOOR_DB / 10)))).astype(np.float32)
    times = centres / sample_rate
    times.setflags(write=False)
    db.setflags(write=False)
    return Spectrogram(times, freqs, db, t0, t1)


def array_reader(x: np.ndarray) -> Reader:
    """A :data:`Reader` over an in-memory mono signal."""
    def read(s0: int, s1: int) -> np.ndarray:
        return x[max(s0, 0):max(s1, 0)]

    return read
