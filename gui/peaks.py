"""Min/max peak pyramid for drawing a waveform of any length quickly (Qt-free).

Level 0 holds the minimum and maximum of every ``base`` samples; each further
level merges ``factor`` buckets of the level below, until a level is small
enough to draw whole. Drawing a view picks the coarsest level that still gives
about two buckets per pixel, clipped to the visible range, so the work per
redraw is bounded by the widget's width, not by the file's length (a 24 h file
at 16 kHz is 1.4e9 samples, level 0 is 5.4e6 buckets, a redraw reads < 8 per pixel).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class PeakPyramid:
    """Peaks of a mono signal.

    Args:
        sample_rate: Hz of the signal the peaks were computed from.
        base: samples per level-0 bucket.
        factor: buckets merged per level.
    """

    def __init__(self, sample_rate: int, base: int = 256, factor: int = 4) -> None:
        self.sample_rate = int(sample_rate)
        self.base = int(base)
        self.factor = int(factor)
        self.num_samples = 0
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        self._samples: np.ndarray | None = None  # kept for exact drawing when zoomed in

    # -- building --------------------------------------------------------------------
    @classmethod
    def from_array(cls, x: np.ndarray, sample_rate: int, base: int = 256,
                   factor: int = 4) -> PeakPyramid:
        """Pyramid of ``x`` (float, shape ``(n,)``); keeps a reference to ``x`` for zoom-in."""
        p = cls(sample_rate, base, factor)
        p._samples = np.asarray(x)
        p._build_from_blocks([np.asarray(x)])
        return p

    @classmethod
    def from_blocks(cls, blocks: Iterable[np.ndarray], sample_rate: int, base: int = 256,
                    factor: int = 4) -> PeakPyramid:
        """Pyramid from consecutive mono blocks (no sample array kept: bounded memory)."""
        p = cls(sample_rate, base, factor)
        p._build_from_blocks(blocks)
        return p

    def _build_from_blocks(self, blocks: Iterable[np.ndarray]) -> None:
        mins: list[np.ndarray] = []
        maxs: list[np.ndarray] = []
        carry = np.zeros(0, dtype=np.float32)
        n = 0
        for block in blocks:
            b = np.asarray(block, dtype=np.float32).reshape(-1)
            n += b.size
            if carry.size:
                b = np.concatenate([carry, b])
            whole = (b.size // self.base) * self.base
            if whole:
                v = b[:whole].reshape(-1, self.base)
                mins.append(v.min(axis=1))
                maxs.append(v.max(axis=1))
            carry = b[whole:].copy()
        if carry.size:
            mins.append(np.array([carry.min()], dtype=np.float32))
            maxs.append(np.array([carry.max()], dtype=np.float32))
        self.num_samples = n
        lo = np.concatenate(mins) if mins else np.zeros(0, np.float32)
        hi = np.concatenate(maxs) if maxs else np.zeros(0, np.float32)
        self.levels = [(lo, hi)]
        while lo.size > 1024:
            m = (lo.size // self.factor) * self.factor
            new_lo = lo[:m].reshape(-1, self.factor).min(axis=1)
            new_hi = hi[:m].reshape(-1, self.factor).max(axis=1)
            if m < lo.size:
                new_lo = np.append(new_lo, lo[m:].min())
                new_hi = np.append(new_hi, hi[m:].max())
            lo, hi = new_lo, new_hi
            self.levels.append((lo, hi))

    # -- querying --------------------------------------------------------------------
    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate if self.sample_rate else 0.0

    def bucket_samples(self, level: int) -> int:
        return self.base * self.factor**level

    def view(self, t0: float, t1: float, width_px: int) -> tuple[np.ndarray, np.ndarray]:
        """Line data ``(x seconds, y)`` for the range ``[t0, t1]`` drawn ``width_px`` wide.

        Zoomed out it is a zig-zag through each bucket's min and max (x repeated),
        which draws as a filled envelope; zoomed in it is the samples themselves.
        At most about ``8 * width_px`` points come back whatever the file length.
        """
        if self.num_samples == 0:
            return np.zeros(0), np.zeros(0)
        width_px = max(int(width_px), 16)
        t0 = max(0.0, float(t0))
        t1 = min(self.duration, float(t1))
        if t1 <= t0:
            return np.zeros(0), np.zeros(0)
        s0 = int(t0 * self.sample_rate)
        s1 = int(np.ceil(t1 * self.sample_rate))
        span = s1 - s0
        if self._samples is not None and span <= 2 * width_px:
            lo_i = max(s0 - 1, 0)
            hi_i = min(s1 + 1, self.num_samples)
            y = np.asarray(self._samples[lo_i:hi_i], dtype=np.float32)
            x = np.arange(lo_i, hi_i, dtype=np.float64) / self.sample_rate
            return x, y
        want = span / width_px  # samples per pixel: use 1 to 4 buckets per pixel
        if self._samples is not None and want < self.base:
            # even level-0 buckets are wider than a pixel (a short clip, or zoomed in):
            # straight ramps between bucket centres would hide the wave, so take the
            # envelope per pixel from the samples (at most base * width_px of them)
            return self._pixel_envelope(s0, s1, width_px)
        level = 0
        while level + 1 < len(self.levels) and self.bucket_samples(level + 1) <= want:
            level += 1
        bs = self.bucket_samples(level)
        lo, hi = self.levels[level]
        b0 = max(s0 // bs - 1, 0)
        b1 = min(s1 // bs + 2, lo.size)
        centres = (np.arange(b0, b1, dtype=np.float64) + 0.5) * bs / self.sample_rate
        x = np.repeat(centres, 2)
        y = np.empty(2 * (b1 - b0), dtype=np.float32)
        y[0::2] = lo[b0:b1]
        y[1::2] = hi[b0:b1]
        return x, y

    def _pixel_envelope(self, s0: int, s1: int, width_px: int) -> tuple[np.ndarray, np.ndarray]:
        """Min/max of the samples in each of ``width_px`` columns of ``[s0, s1)``."""
        assert self._samples is not None
        s1 = min(s1, self.num_samples)
        edges = np.linspace(s0, s1, width_px + 1).astype(np.int64)
        edges = np.unique(edges)
        x_all = np.asarray(self._samples[s0:s1], dtype=np.float32)
        starts = edges[:-1] - s0
        lo = np.minimum.reduceat(x_all, starts)
        hi = np.maximum.reduceat(x_all, starts)
        centres = (edges[:-1] + edges[1:]) / 2.0 / self.sample_rate
        x = np.repeat(centres, 2)
        y = np.empty(2 * lo.size, dtype=np.float32)
        y[0::2] = lo
        y[1::2] = hi
        return x, y
