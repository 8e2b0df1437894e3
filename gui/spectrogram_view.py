"""The spectrogram row under the waveform (View > Spectrogram).

:class:`SpectrogramView` inserts one pyqtgraph plot into the timeline's layout,
right under the waveform when shown (and takes it out when hidden), X-linked to it. While shown it
recomputes :func:`gui.spectrogram.spectrogram` for the visible range only, at most
one column per pixel, :data:`DEBOUNCE_MS` after the range stops changing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, QTimer, Signal

from gui.spectrogram import Reader, Spectrogram, spectrogram

DEBOUNCE_MS = 120
RANGE_DB = 80.0


def _shift_rows(ci: Any, first: int, delta: int) -> None:
    """Move the items of rows ``first`` and below of the pyqtgraph ``GraphicsLayout``
    ``ci`` by ``delta`` rows (with their stretch factors)."""
    lay = ci.layout
    rows = sorted((r for r in ci.rows if r >= first), reverse=delta > 0)
    for r in rows:
        stretch = lay.rowStretchFactor(r)
        for c, it in list(ci.rows[r].items()):
            lay.removeAt(ci.itemIndex(it))
            ci.rows.setdefault(r + delta, {})[c] = it
            ci.items[it] = [(rr + delta if rr == r else rr, cc) for rr, cc in ci.items[it]]
            lay.addItem(it, r + delta, c)
        lay.setRowStretchFactor(r + delta, stretch)
        lay.setRowStretchFactor(r, 0)
        del ci.rows[r]


def insert_row(ci: Any, row: int, item: Any, stretch: int = 1) -> None:
    """Put ``item`` at ``row`` of the ``GraphicsLayout`` ``ci``, moving the items of that
    row and below one row down (a hidden item still takes room in a Qt layout)."""
    _shift_rows(ci, row, 1)
    ci.addItem(item, row=row, col=0)
    ci.layout.setRowStretchFactor(row, stretch)


def remove_row(ci: Any, item: Any) -> None:
    """Take ``item`` (alone in its row) out of ``ci`` and close the gap."""
    (row, _), *_ = ci.items[item]
    ci.removeItem(item)
    _shift_rows(ci, row + 1, -1)


class SpectrogramView(QObject):
    """The spectrogram plot of ``timeline`` (a :class:`gui.timeline.Timeline`).

    Signals:
        computed(): a new spectrogram is drawn (``last`` holds its data).
    """

    computed = Signal()

    def __init__(self, timeline: Any) -> None:
        super().__init__(timeline)
        self.timeline = timeline
        self.read: Reader | None = None
        self.sample_rate = 0
        self.num_samples = 0
        self.last: Spectrogram | None = None
        self.plot = pg.PlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.getAxis("left").setWidth(92)
        self.plot.setLabel("left", "spectrogram")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").setStyle(showValues=False)
        self.image = pg.ImageItem(axisOrder="col-major")
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.plot.addItem(self.image)
        line = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen("#e67e22", width=2))
        line.setZValue(100)
        self.plot.addItem(line, ignoreBounds=True)
        timeline.playheads.append(line)  # set_playhead moves every line in that list
        self.plot.setXLink(timeline.wave_plot)
        self._shown = False  # in the layout (row 1, under the waveform) only when shown
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.recompute)
        timeline.wave_plot.sigXRangeChanged.connect(lambda *_: self._schedule())

    # -- source and visibility ---------------------------------------------------------
    def set_source(self, read: Reader | None, sample_rate: int, num_samples: int) -> None:
        """Where the samples come from (None: no recording)."""
        self.read = read
        self.sample_rate = int(sample_rate)
        self.num_samples = int(num_samples)
        nyq = self.sample_rate / 2 if self.sample_rate else 1.0
        self.plot.setYRange(0, nyq, padding=0)
        self.plot.getAxis("left").setTicks(
            [[(f, f"{f / 1000:g} kHz") for f in np.arange(0, nyq + 1, 2000.0)], []])
        if self.num_samples and self.sample_rate:
            self.plot.vb.setLimits(xMin=0.0, xMax=self.num_samples / self.sample_rate)
        self.last = None
        self.image.clear()
        self._schedule()

    @property
    def visible(self) -> bool:
        return self._shown

    def set_visible(self, on: bool) -> None:
        on = bool(on)
        if on == self._shown:
            return
        ci = self.timeline.ci
        if on:
            insert_row(ci, 1, self.plot, stretch=2)
        else:
            remove_row(ci, self.plot)
        self._shown = on
        ci.layout.activate()
        if on:
            self.recompute()

    def _schedule(self) -> None:
        if self.visible:
            self._timer.start()

    # -- drawing -----------------------------------------------------------------------
    def recompute(self) -> Spectrogram | None:
        """Compute and draw the spectrogram of the visible range now (None: nothing to show)."""
        self._timer.stop()
        if self.read is None or not self.sample_rate or not self.visible:
            return None
        (x0, x1), _ = self.timeline.wave_plot.vb.viewRange()
        width = int(self.plot.vb.width()) or int(self.timeline.wave_plot.vb.width()) or 800
        spec = spectrogram(self.read, self.sample_rate, self.num_samples, x0, x1, width)
        self.last = spec
        if spec.times.size == 0:
            self.image.clear()
        else:
            top = float(spec.db.max())
            self.image.setImage(spec.db, autoLevels=False, levels=(top - RANGE_DB, top))
            self.image.setRect(QRectF(spec.t0, 0.0, spec.t1 - spec.t0, spec.nyquist))
        self.computed.emit()
        return spec
