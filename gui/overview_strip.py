"""The overview strip under the timeline: the whole recording, the visible range as a
draggable box, and a horizontal scroll bar shown while zoomed in.

All three follow the timeline's X range (``Timeline.wave_plot``): dragging the box or
the scroll bar moves the timeline's view, and zooming or panning the timeline moves
the box and the bar. The strip's waveform comes from the coarsest pyramid levels
(about two buckets per pixel of the strip), so it costs the same for 24 s or 24 h.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QHBoxLayout, QScrollBar, QSizePolicy, QVBoxLayout, QWidget

from gui.peaks import PeakPyramid

STRIP_HEIGHT_PX = 54
LEFT_AXIS_PX = 92  # the timeline's left axis width (gui/timeline.py)
SCROLL_UNITS_PER_SECOND = 1000  # scroll bar steps: milliseconds (24 h = 8.64e7 < 2**31)


class OverviewStrip(QWidget):
    """Overview of ``timeline``'s recording; call :meth:`set_pyramid` when it changes.

    Attributes:
        plot: the small plot of the whole recording.
        box: the ``pg.LinearRegionItem`` over it: the timeline's visible range.
        scroll: the ``QScrollBar`` (hidden when the whole recording is in view).
    """

    def __init__(self, timeline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = timeline
        self.duration = 0.0
        self.pyramid: PeakPyramid | None = None
        self._syncing = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)

        self.scroll = QScrollBar(Qt.Orientation.Horizontal, self)
        self.scroll.setObjectName("timeline_scroll")
        self.scroll.setToolTip("Scroll through the recording")
        self.scroll.valueChanged.connect(self._scrolled)
        self.scroll.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addSpacing(LEFT_AXIS_PX + 4)  # under the plots' area, not their left axis
        row.addWidget(self.scroll)
        row.addSpacing(8)
        lay.addLayout(row)

        self.plot = pg.PlotWidget(self, background="w")
        self.plot.setObjectName("overview_strip")
        self.plot.setFixedHeight(STRIP_HEIGHT_PX)
        self.plot.setToolTip("The whole recording: drag the box to move the view, click to "
                             "centre it there")
        pi = self.plot.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        pi.setMouseEnabled(x=False, y=False)
        pi.hideAxis("bottom")
        pi.getAxis("left").setWidth(LEFT_AXIS_PX)  # lines up with the timeline's plots
        pi.getAxis("left").setStyle(showValues=False)
        pi.getAxis("left").setTicks([[]])
        pi.getAxis("left").enableAutoSIPrefix(False)
        pi.setLabel("left", "overview", **{"font-size": "7pt"})
        pi.setContentsMargins(4, 0, 8, 2)
        self.curve = pg.PlotDataItem(pen=pg.mkPen("#7f9cc0", width=1))
        pi.addItem(self.curve)
        self.box = pg.LinearRegionItem(values=(0, 0), brush=pg.mkBrush(59, 110, 168, 50),
                                       pen=pg.mkPen("#3b6ea8", width=1.5))
        self.box.setZValue(10)
        pi.addItem(self.box, ignoreBounds=True)
        self.box.sigRegionChanged.connect(self._box_moved)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        lay.addWidget(self.plot)
        # as tall as its contents: the timeline above takes the rest
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.setEnabled(False)

        timeline.wave_plot.sigXRangeChanged.connect(lambda *_: self.sync_from_view())

    # -- data ----------------------------------------------------------------------
    def set_pyramid(self, pyramid: PeakPyramid | None) -> None:
        """Show ``pyramid``'s recording whole (None: nothing)."""
        self.pyramid = pyramid
        self.duration = pyramid.duration if pyramid is not None else 0.0
        d = max(self.duration, 0.01)
        pi = self.plot.getPlotItem()
        pi.vb.setLimits(xMin=0.0, xMax=d)
        pi.setXRange(0.0, d, padding=0)
        self.box.setBounds((0.0, d))
        if pyramid is not None and pyramid.num_samples:
            width = max(int(self.plot.width()), 400)
            # coarsest levels only: never read samples for the overview
            x, y = _overview_line(pyramid, width)
            self.curve.setData(x, y)
            peak = float(max(abs(y.min()), abs(y.max()))) if y.size else 1.0
            peak = min(max(peak, 0.05), 1.0)
            pi.setYRange(-peak, peak, padding=0.05)
        else:
            self.curve.setData([], [])
        self.setEnabled(pyramid is not None)
        self.sync_from_view()

    # -- view range <-> box and scroll bar ---------------------------------------------
    def view_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.timeline.wave_plot.vb.viewRange()
        return float(x0), float(x1)

    def sync_from_view(self) -> None:
        """Put the box and the scroll bar where the timeline's view is."""
        if self._syncing:
            return
        self._syncing = True
        try:
            x0, x1 = self.view_range()
            d = self.duration
            self.box.setRegion((max(0.0, x0), min(d, x1) if d else x1))
            width = x1 - x0
            zoomed = d > 0 and width < d * 0.999
            u = SCROLL_UNITS_PER_SECOND
            self.scroll.setRange(0, max(int(round((d - width) * u)), 0) if zoomed else 0)
            self.scroll.setPageStep(max(int(round(width * u)), 1))
            self.scroll.setSingleStep(max(int(round(width * u / 10)), 1))
            self.scroll.setValue(int(round(max(x0, 0.0) * u)))
            self.scroll.setVisible(zoomed)
        finally:
            self._syncing = False

    def _set_view(self, x0: float, x1: float) -> None:
        self._syncing = True
        try:
            self.timeline.wave_plot.setXRange(x0, x1, padding=0)
        finally:
            self._syncing = False
        self.sync_from_view()

    def _box_moved(self, *_: object) -> None:
        if self._syncing or self.duration <= 0:
            return
        a, b = self.box.getRegion()
        if b - a > 1e-6:
            self._set_view(float(a), float(b))

    def _scrolled(self, value: int) -> None:
        if self._syncing or self.duration <= 0:
            return
        x0, x1 = self.view_range()
        width = x1 - x0
        start = value / SCROLL_UNITS_PER_SECOND
        self._set_view(start, start + width)

    def centre_on(self, t: float) -> None:
        """Move the view (same width) so that it is centred on ``t`` seconds."""
        x0, x1 = self.view_range()
        w = x1 - x0
        start = min(max(t - w / 2, 0.0), max(self.duration - w, 0.0))
        self._set_view(start, start + w)

    def _clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self.duration <= 0:
            return
        vb = self.plot.getPlotItem().vb
        pos = ev.scenePos()
        if vb.sceneBoundingRect().contains(pos):
            self.centre_on(float(vb.mapSceneToView(QPointF(pos)).x()))


def _overview_line(pyramid: PeakPyramid, width: int):
    """Zig-zag ``(x, y)`` through a level with at least ~2 buckets per pixel (or level 0)."""
    import numpy as np

    level = len(pyramid.levels) - 1
    while level > 0 and pyramid.levels[level][0].size < 2 * width:
        level -= 1
    lo, hi = pyramid.levels[level]
    bs = pyramid.bucket_samples(level)
    centres = (np.arange(lo.size, dtype=np.float64) + 0.5) * bs / pyramid.sample_rate
    x = np.repeat(centres, 2)
    y = np.empty(2 * lo.size, dtype=np.float32)
    y[0::2] = lo
    y[1::2] = hi
    return x, y
