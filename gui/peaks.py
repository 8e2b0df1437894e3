"""Min/max peak pyramid for drawing a waveform of any length quickly (Qt-free).

The levels are an :class:`engine.peak_pyramid.Peaks` (level 0: min and max of every
``base`` samples; each further level merges ``factor`` buckets). Drawing a view
picks the coarsest level that still gives about two buckets per pixel, clipped to
the visible range, so the work per redraw is bounded by the widget's width, not by
the file's length (a 24 h file at 16 kHz is 1.4e9 samples, level 0 is 5.4e6
buckets, a redraw reads < 8 per pixel). Zoomed in further than level 0 the samples
of the visible range only are read, through ``reader(start, stop)`` (from the file
for a :class:`engine.peak_pyramid.FileAudio`: the pyramid holds no sample array).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from engine.peak_pyramid import BASE, FACTOR, Peaks, peaks_from_array, peaks_from_blocks

Reader = Callable[[int, int], np.ndarray]
"""``reader(start, stop)``: frames ``[start, stop)`` as float32 ``(n,)``."""


class PeakPyramid:
    """Peaks of a mono signal, plus a way to read its samples for zoomed-in drawing.

    Args:
        peaks: the levels.
        reader: ``reader(start, stop)`` returns samples ``[start, stop)``; None: the
            view never goes below level 0.
    """

    def __init__(self, peaks: Peaks, reader: Reader | None = None) -> None:
        self.peaks = peaks
        self.sample_rate = int(peaks.sample_rate)
        self.base = int(peaks.base)
        self.factor = int(peaks.factor)
        self.num_samples = int(peaks.num_samples)
        self.levels: list[tuple[np.ndarray, np.ndarray]] = list(zip(peaks.mins, peaks.maxs,
                                                                     strict=True))
        self._reader = reader

    # -- building --------------------------------------------------------------------
    @classmethod
    def from_array(cls, x: np.ndarray, sample_rate: int, base: int = BASE,
                   factor: int = FACTOR) -> PeakPyramid:
        """Pyramid of ``x`` (float, shape ``(n,)``); keeps a reference to ``x`` for zoom-in
        (for short in-memory audio: recordings)."""
        arr = np.asarray(x)
        return cls(peaks_from_array(arr, sample_rate, base=base, factor=factor),
                   lambda a, b: arr[a:b])

    @classmethod
    def from_blocks(cls, blocks: Iterable[np.ndarray], sample_rate: int, base: int = BASE,
                    factor: int = FACTOR) -> PeakPyramid:
        """Pyramid from consecutive mono blocks (no sample array kept: bounded memory)."""
        return cls(peaks_from_blocks(blocks, sample_rate, base=base, factor=factor))

    @property
    def reads_samples(self) -> bool:
        return self._reader is not None

    def _read(self, start: int, stop: int) -> np.ndarray:
        assert self._reader is not None
        return np.asarray(self._reader(start, stop), dtype=np.float32)

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
        if self._reader is not None and span <= 2 * width_px:
            lo_i = max(s0 - 1, 0)
            hi_i = min(s1 + 1, self.num_samples)
            y = self._read(lo_i, hi_i)
            x = np.arange(lo_i, lo_i + y.size, dtype=np.float64) / self.sample_rate
            return x, y
        want = span / width_px  # samples per pixel: use 1 to 4 buckets per pixel
        if self._reader is not None and want < self.base:
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
        s1 = min(s1, self.num_samples)
        x_all = self._read(s0, s1)
        s1 = s0 + x_all.size  # a file shorter than its pyramid says: draw what is there
        if x_all.size == 0:
            return np.zeros(0), np.zeros(0)
        edges = np.linspace(s0, s1, width_px + 1).astype(np.int64)
        edges = np.unique(edges)
        starts = edges[:-1] - s0
        lo = np.minimum.reduceat(x_all, starts)
        hi = np.maximum.reduceat(x_all, starts)
        centres = (edges[:-1] + edges[1:]) / 2.0 / self.sample_rate
        x = np.repeat(centres, 2)
        y = np.empty(2 * lo.size, dtype=np.float32)
        y[0::2] = lo
        y[1::2] = hi
        return x, y
