"""The timeline: waveform, one lane per speaker, confidence curve, playhead, selection.

Three pyqtgraph plots with linked X axes (seconds). The waveform is drawn from
a :class:`~gui.peaks.PeakPyramid`, recomputed for the visible range only, so a
24 h file draws as fast as a 24 s one. All speaker lanes are one
:class:`LanesItem` that paints only the turns in view, in device pixels (crisp
text, cheap when zoomed out).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QCursor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QLabel, QToolTip

from engine.segments import ScoreTrack, Turn
from gui.peaks import PeakPyramid
from gui.segment_table import fmt_time

LANE_HEIGHT_PX = 26
LEGEND_CONFIDENCE = "black: score of the speaker named in the table"
LEGEND_SPEAKERS = "faint: similarity to each enrolled speaker"


class LanesItem(pg.GraphicsObject):
    """All speaker lanes: lane ``i`` spans y in ``[i, i + 1)`` (top lane first)."""

    turnClicked = Signal(int)  # index into the turns given to set_turns

    def __init__(self) -> None:
        super().__init__()
        self.turns: list[Turn] = []
        self.labels: list[str] = []
        self.names: dict[str, str] = {}
        self.colours: dict[str, QColor] = {}
        self.selected: set[int] = set()
        self.duration = 0.0
        self._starts: list[float] = []
        self._max_len = 0.0
        self._order: list[int] = []
        self.why: dict[str, str] = {}  # lane (speaker label) -> why its clusters got the name
        self.edge_drag: Any = None  # gui.edge_drag.EdgeDrag: drags turn edges when set
        self.setAcceptHoverEvents(True)

    def set_turns(self, turns: Sequence[Turn], labels: Sequence[str], names: Mapping[str, str],
                  colours: Mapping[str, QColor], duration: float) -> None:
        self.prepareGeometryChange()
        self.turns = list(turns)
        self.labels = list(labels)
        self.names = dict(names)
        self.colours = dict(colours)
        self.duration = float(duration)
        self._order = sorted(range(len(self.turns)), key=lambda i: self.turns[i].start)
        self._starts = [self.turns[i].start for i in self._order]
        self._max_len = max((t.duration for t in self.turns), default=0.0)
        self.selected = {i for i in self.selected if i < len(self.turns)}
        self.update()

    def set_selected(self, indices: set[int]) -> None:
        self.selected = set(indices)
        self.update()

    def lane_of(self, label: str) -> int:
        return self.labels.index(label)

    def rects(self) -> list[tuple[int, QRectF]]:
        """(turn index, rect in data coordinates) of every turn: what gets painted."""
        out = []
        for i, t in enumerate(self.turns):
            if t.speaker in self.labels:
                out.append((i, QRectF(t.start, self.lane_of(t.speaker) + 0.12, t.duration, 0.76)))
        return out

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return QRectF(0.0, 0.0, max(self.duration, 1e-3), max(len(self.labels), 1))

    def _visible(self) -> list[int]:
        vb = self.getViewBox()
        if vb is None:
            return list(range(len(self.turns)))
        (x0, x1), _ = vb.viewRange()
        lo = bisect.bisect_left(self._starts, x0 - self._max_len)
        hi = bisect.bisect_right(self._starts, x1)
        return [self._order[k] for k in range(lo, hi) if self.turns[self._order[k]].end >= x0]

    def paint(self, p: QPainter, *args: object) -> None:
        if not self.turns:
            return
        lane = {lab: k for k, lab in enumerate(self.labels)}
        tr = p.transform()
        p.save()
        p.resetTransform()  # paint in device pixels: crisp edges and readable text
        font = QFont()
        font.setPointSizeF(8.5)
        p.setFont(font)
        fm = QFontMetrics(font)
        for i in self._visible():
            t = self.turns[i]
            k = lane.get(t.speaker)
            if k is None:
                continue
            r = tr.mapRect(QRectF(t.start, k + 0.12, t.duration, 0.76))
            if r.width() < 1.0:
                r.setWidth(1.0)
            colour = self.colours.get(t.speaker, QColor("#888888"))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QBrush(colour))
            p.drawRect(r)
            if i in self.selected:
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.setPen(QPen(QColor("#000000"), 2.5))
                p.drawRect(r.adjusted(-1, -1, 1, 1))
            name = self.names.get(t.speaker, t.speaker)
            if r.width() > fm.horizontalAdvance(name) + 8:
                p.setPen(QPen(QColor("#ffffff") if colour.lightnessF() < 0.6 else QColor("#000000")))
                p.drawText(r.adjusted(4, 0, -2, 0),
                           int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), name)
        p.restore()

    def hit(self, x: float, y: float) -> int | None:
        k = int(np.floor(y))
        if not 0 <= k < len(self.labels):
            return None
        label = self.labels[k]
        best = None
        for i, t in enumerate(self.turns):
            if t.speaker == label and t.start <= x <= t.end:
                best = i
        return best

    def tooltip_at(self, x: float, y: float) -> str | None:
        """Why the lane under ``(x, y)`` (data coordinates) got its name, or None."""
        k = int(np.floor(y))
        if not 0 <= k < len(self.labels):
            return None
        return self.why.get(self.labels[k])

    def hoverEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        if ev.isExit():
            self.setToolTip("")
            return
        pos = ev.pos()
        self.setToolTip(self.tooltip_at(pos.x(), pos.y()) or "")
        if self.edge_drag is not None:
            self.edge_drag.hover(self, pos.x(), pos.y())

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        """Near a turn's edge: move it (gui.edge_drag); elsewhere: pan."""
        if self.edge_drag is None or not self.edge_drag.drag(self, ev):
            ev.ignore()

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        pos = ev.pos()
        i = self.hit(pos.x(), pos.y())
        if i is None:
            ev.ignore()
            return
        ev.accept()
        self.turnClicked.emit(i)


class SelectViewBox(pg.ViewBox):
    """A ViewBox where Shift+drag selects a time region instead of panning."""

    regionDragged = Signal(float, float, bool)  # start, end, finished

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph API
        if ev.button() == Qt.MouseButton.LeftButton and (
            ev.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            ev.accept()
            a = self.mapSceneToView(ev.buttonDownScenePos()).x()
            b = self.mapSceneToView(ev.scenePos()).x()
            self.regionDragged.emit(min(a, b), max(a, b), ev.isFinish())
            return
        super().mouseDragEvent(ev, axis)


class Timeline(pg.GraphicsLayoutWidget):
    """Waveform, speaker lanes and confidence curve sharing one time axis.

    Signals:
        turnClicked(int): a turn was clicked (index into the turns last set).
        playheadMoved(float): the user clicked somewhere: new playhead time (s).
        regionChanged(float, float): the selected region changed (s).
        thresholdMoved(float): the user dragged the threshold line (0-100).
    """

    turnClicked = Signal(int)
    playheadMoved = Signal(float)
    regionChanged = Signal(float, float)
    thresholdMoved = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.pyramid: PeakPyramid | None = None
        self.duration = 0.0
        self.ci.layout.setSpacing(0)
        self.ci.setContentsMargins(4, 4, 8, 4)

        self.wave_vb = SelectViewBox()
        self.wave_plot = self.addPlot(row=0, col=0, viewBox=self.wave_vb)
        self.lanes_plot = self.addPlot(row=1, col=0)
        self.conf_plot = self.addPlot(row=2, col=0)
        for plot in (self.wave_plot, self.lanes_plot, self.conf_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=True, y=False)
            plot.getAxis("left").setWidth(92)
            plot.showGrid(x=True, y=False, alpha=0.15)
        self.lanes_plot.setXLink(self.wave_plot)
        self.conf_plot.setXLink(self.wave_plot)
        self.wave_plot.getAxis("bottom").setStyle(showValues=False)
        self.lanes_plot.getAxis("bottom").setStyle(showValues=False)
        self.conf_plot.setLabel("bottom", "time", units="s")
        self.wave_plot.setLabel("left", "waveform")
        self.wave_plot.getAxis("left").enableAutoSIPrefix(False)
        self.wave_plot.getAxis("left").setStyle(showValues=False)
        self.conf_plot.setLabel("left", "confidence")
        self.wave_plot.setYRange(-1.0, 1.0, padding=0.02)
        self.conf_plot.setYRange(0, 100, padding=0.04)
        self.conf_plot.getAxis("left").setTicks([[(0, "0"), (50, "50"), (100, "100")]])
        self.lanes_plot.getAxis("left").setTicks([[]])
        self.lanes_plot.invertY(True)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 3)
        self.ci.layout.setRowStretchFactor(2, 2)

        self.wave_curve = pg.PlotDataItem(pen=pg.mkPen("#3b6ea8", width=1))
        self.wave_plot.addItem(self.wave_curve)
        self.lanes = LanesItem()
        self.lanes_plot.addItem(self.lanes)
        self.lanes.turnClicked.connect(self.turnClicked)
        self.conf_curve = pg.PlotDataItem(pen=pg.mkPen("#222222", width=1.2))
        self.conf_curve.setDownsampling(auto=True, method="peak")
        self.conf_curve.setClipToView(True)
        self.conf_plot.addItem(self.conf_curve)
        self.speaker_curves: list[pg.PlotDataItem] = []
        self.speaker_curve_ids: list[str] = []
        self.curve_names: dict[str, str] = {}  # speaker id -> name, for the hover text
        self.legend = self.conf_plot.addLegend(offset=(-8, 2), labelTextSize="8pt",
                                               brush=pg.mkBrush(255, 255, 255, 200))
        self.legend.addItem(self.conf_curve, LEGEND_CONFIDENCE)
        # one entry for all the faint curves: a key, not a list of every speaker
        self._speakers_key = pg.PlotDataItem(pen=pg.mkPen(QColor(120, 120, 120, 150), width=1))
        self.placeholder = QLabel(self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet(
            "QLabel { color: #333; background: rgba(255,255,255,220); font-size: 11pt;"
            " padding: 16px; border: 1px solid #bbb; border-radius: 6px; }")
        self.placeholder.hide()
        self.threshold_line = pg.InfiniteLine(
            pos=50, angle=0, movable=True, pen=pg.mkPen("#c0392b", width=1.5, style=Qt.PenStyle.DashLine),
            label="threshold {value:.0f}", labelOpts={"position": 0.04, "color": "#c0392b"},
        )
        self.threshold_line.setBounds((0, 100))
        self.threshold_line.sigPositionChangeFinished.connect(
            lambda line: self.thresholdMoved.emit(float(line.value()))
        )
        self.conf_plot.addItem(self.threshold_line)

        self.playheads = []
        for plot in (self.wave_plot, self.lanes_plot, self.conf_plot):
            line = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen("#e67e22", width=2))
            line.setZValue(100)
            plot.addItem(line, ignoreBounds=True)
            self.playheads.append(line)
        self.region = pg.LinearRegionItem(values=(0, 0), brush=pg.mkBrush(255, 200, 0, 60))
        self.region.setZValue(50)
        self.region.hide()
        self.wave_plot.addItem(self.region, ignoreBounds=True)
        self.region.sigRegionChangeFinished.connect(self._region_finished)
        self.wave_vb.regionDragged.connect(self._region_dragged)

        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(15)
        self._redraw.timeout.connect(self.redraw_waveform)
        self.wave_plot.sigXRangeChanged.connect(lambda *_: self._redraw.start())
        self.scene().sigMouseClicked.connect(self._scene_clicked)
        self.scene().sigMouseMoved.connect(self._scene_hovered)

    # -- data ------------------------------------------------------------------------
    def set_audio(self, pyramid: PeakPyramid | None) -> None:
        self.pyramid = pyramid
        self.duration = pyramid.duration if pyramid is not None else 0.0
        d = max(self.duration, 0.01)
        for plot in (self.wave_plot, self.lanes_plot, self.conf_plot):
            plot.vb.setLimits(xMin=0.0, xMax=d, minXRange=min(0.01, d))
        if pyramid is not None:
            peak = max((float(np.max(np.abs(lv))) for lv in pyramid.levels[-1] if lv.size),
                       default=1.0)
            peak = min(max(peak, 0.05), 1.0)
            self.wave_plot.setYRange(-peak, peak, padding=0.05)
        self.wave_plot.setXRange(0.0, d, padding=0)
        self.clear_region()
        self.set_playhead(0.0)
        self.redraw_waveform()

    def redraw_waveform(self) -> None:
        if self.pyramid is None:
            self.wave_curve.setData([], [])
            return
        (x0, x1), _ = self.wave_plot.vb.viewRange()
        width = int(self.wave_plot.vb.width()) or 800
        x, y = self.pyramid.view(x0, x1, width)
        self.wave_curve.setData(x, y)

    def set_result(self, turns: Sequence[Turn], labels: Sequence[str], names: Mapping[str, str],
                   colours: Mapping[str, QColor], confidence: ScoreTrack | None = None,
                   speaker_curves: ScoreTrack | None = None,
                   curve_ids: Sequence[str] = ()) -> None:
        self.lanes.set_turns(turns, labels, names, colours, max(self.duration, 0.0))
        self._set_lane_axis()
        if confidence is not None:
            self.set_confidence(confidence)
        for c in self.speaker_curves:
            self.conf_plot.removeItem(c)
        self.speaker_curves = []
        self.speaker_curve_ids = []
        self.legend.removeItem(self._speakers_key)
        if speaker_curves is not None and speaker_curves.values.ndim == 2:
            x = speaker_curves.times()
            for row, sid in zip(speaker_curves.values, curve_ids, strict=False):
                col = QColor(colours.get(sid, QColor("#888888")))
                col.setAlpha(150)
                # add before setting data: clip-to-view needs the item's ViewBox
                item = pg.PlotDataItem(pen=pg.mkPen(col, width=1))
                item.setZValue(-1)
                self.conf_plot.addItem(item)
                item.setDownsampling(auto=True, method="peak")
                item.setClipToView(True)
                item.setData(x, np.asarray(row, dtype=np.float64))
                self.speaker_curves.append(item)
                self.speaker_curve_ids.append(str(sid))
            if self.speaker_curves:
                self.legend.addItem(self._speakers_key, LEGEND_SPEAKERS)

    def update_turns(self, turns: Sequence[Turn], labels: Sequence[str],
                     names: Mapping[str, str], colours: Mapping[str, QColor]) -> None:
        """Re-draw lanes after an edit, keeping the curves."""
        self.lanes.set_turns(turns, labels, names, colours, self.duration)
        self._set_lane_axis()

    def set_reference(self, turns: Sequence[Turn], labels: Sequence[str],
                      names: Mapping[str, str], colours: Mapping[str, QColor]) -> None:
        """Read-only reference lanes under the speaker lanes (no labels: none);
        see :mod:`gui.reference_view`."""
        ref = getattr(self, "ref_lanes", None)
        if ref is None:
            from gui.reference_view import ReferenceLanesItem

            ref = self.ref_lanes = ReferenceLanesItem()
            self.lanes_plot.addItem(ref)
            self.ref_separator = pg.InfiniteLine(pos=0, angle=0, movable=False,
                                                 pen=pg.mkPen("#555555", width=1.5))
            self.lanes_plot.addItem(self.ref_separator, ignoreBounds=True)
        ref.set_turns(turns, labels, names, colours, self.duration)
        self._set_lane_axis()

    def _set_lane_axis(self) -> None:
        """Lane names on the left axis and the y range: speaker lanes, then the
        reference's (when loaded) below a separator."""
        lanes = [(lab, self.lanes.names.get(lab, lab)) for lab in self.lanes.labels]
        ref = getattr(self, "ref_lanes", None)
        n = len(lanes)
        if ref is not None:
            ref.setPos(0.0, float(n))
            self.ref_separator.setValue(float(n))
            self.ref_separator.setVisible(bool(ref.labels))
            lanes += [(lab, ref.names.get(lab, lab)) for lab in ref.labels]
        ticks = [(k + 0.5, _elide(name)) for k, (_, name) in enumerate(lanes)]
        self.lanes_plot.getAxis("left").setTicks([ticks, []])
        self.lanes_plot.setYRange(0, max(len(lanes), 1), padding=0)

    def set_explanations(self, why: Mapping[str, str]) -> None:
        """Lane tooltips: speaker label -> why its clusters got the name (gui.explain)."""
        self.lanes.why = dict(why)

    def set_confidence(self, track: ScoreTrack | None) -> None:
        if track is None or track.num_frames == 0:
            self.conf_curve.setData([], [])
            return
        self.conf_curve.setData(track.times(), np.asarray(track.values, dtype=np.float64))

    def clear_result(self) -> None:
        self.set_result([], [], {}, {}, None)
        self.conf_curve.setData([], [])

    def set_threshold(self, value: float) -> None:
        self.threshold_line.setValue(float(value))

    def set_placeholder(self, text: str) -> None:
        """What to do first, over the empty timeline ("" hides it)."""
        self.placeholder.setText(text)
        self.placeholder.setVisible(bool(text))
        self._place_placeholder()

    def _place_placeholder(self) -> None:
        if getattr(self, "placeholder", None) is None:
            return  # pyqtgraph resizes during its own __init__, before ours ran
        w = min(max(self.width() - 40, 200), 760)
        self.placeholder.setFixedWidth(w)
        self.placeholder.adjustSize()
        self.placeholder.move((self.width() - w) // 2,
                              max((self.height() - self.placeholder.height()) // 2, 0))

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(ev)
        self._place_placeholder()

    # -- hover -----------------------------------------------------------------------
    def hover_text(self, t: float) -> str:
        """The tooltip at time ``t``: time, the speaker talking, their score, the curves."""
        parts = [fmt_time(t)]
        turns = [x for x in self.lanes.turns if x.start <= t <= x.end]
        for x in turns:
            parts.append(f"{self.lanes.names.get(x.speaker, x.speaker)}: score {x.score:.0f}")
        if not turns:
            parts.append("no speaker")
        cx, cy = self.conf_curve.getOriginalDataset()
        if cx is not None and len(cx):
            i = int(np.clip(np.searchsorted(cx, t), 0, len(cx) - 1))
            parts.append(f"curve {float(cy[i]):.0f}")
        for item, sid in zip(self.speaker_curves, self.speaker_curve_ids, strict=False):
            x, y = item.getOriginalDataset()
            if x is not None and len(x):
                i = int(np.clip(np.searchsorted(x, t), 0, len(x) - 1))
                name = self.curve_names.get(sid) or self.lanes.names.get(sid, sid)
                parts.append(f"similarity to {name}: {float(y[i]):.0f}")
        return "\n".join(parts)

    def _scene_hovered(self, pos) -> None:
        if self.duration <= 0:
            return
        for plot in (self.lanes_plot, self.conf_plot):
            if plot.vb.sceneBoundingRect().contains(pos):
                t = float(plot.vb.mapSceneToView(QPointF(pos)).x())
                if 0.0 <= t <= self.duration:
                    text = self.hover_text(t)
                    self.setToolTip(text)
                    QToolTip.showText(QCursor.pos(), text, self)
                return

    # -- playhead and region ---------------------------------------------------------
    @property
    def playhead(self) -> float:
        return float(self.playheads[0].value())

    def set_playhead(self, t: float, *, follow: bool = False) -> None:
        for line in self.playheads:
            line.setValue(float(t))
        if follow:
            (x0, x1), _ = self.wave_plot.vb.viewRange()
            if not x0 <= t <= x1:
                w = x1 - x0
                self.wave_plot.setXRange(t - 0.1 * w, t + 0.9 * w, padding=0)

    def selection(self) -> tuple[float, float] | None:
        if not self.region.isVisible():
            return None
        a, b = self.region.getRegion()
        return (float(a), float(b)) if b - a > 1e-3 else None

    def set_selection(self, start: float, end: float) -> None:
        self.region.setRegion((start, end))
        self.region.show()
        self.regionChanged.emit(float(start), float(end))

    def clear_region(self) -> None:
        self.region.hide()
        self.region.setRegion((0, 0))

    def zoom_to(self, start: float, end: float) -> None:
        self.wave_plot.setXRange(start, end, padding=0.02)

    def _region_dragged(self, a: float, b: float, finished: bool) -> None:
        a = max(0.0, a)
        b = min(self.duration, b) if self.duration else b
        self.region.setRegion((a, b))
        self.region.show()
        if finished:
            self.regionChanged.emit(a, b)

    def _region_finished(self, *_: object) -> None:
        a, b = self.region.getRegion()
        if self.region.isVisible():
            self.regionChanged.emit(float(a), float(b))

    def _scene_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self.duration <= 0:
            return
        pos = ev.scenePos()
        for plot in (self.wave_plot, self.lanes_plot, self.conf_plot):
            if plot.vb.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(QPointF(pos)).x()
                x = min(max(0.0, x), self.duration)
                self.set_playhead(x)
                self.playheadMoved.emit(x)
                return


def _elide(name: str, n: int = 14) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"
