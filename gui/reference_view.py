"""The reference overlay's widgets: read-only "ref:" lanes and the scores table.

:class:`ReferenceLanesItem` draws a reference annotation's turns in lanes of their own
under the speaker lanes (the timeline places it), hatched and outlined so they never
pass for turns of the result, in the colour of the result's speaker DER maps onto each
reference speaker (grey when none is). Clicks go through: the reference is not edited.

:class:`ReferencePanel` shows DER, missed speech, false alarm and confusion for the
whole file and for the visible range (:class:`engine.reference.DiarizationScores`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.reference import BENCH_COLLAR_S, DiarizationScores
from engine.segments import Turn
from gui.timeline import LanesItem

REF_PREFIX = "ref: "
UNMAPPED = QColor("#9a9a9a")
ROWS = ("DER", "Missed speech", "False alarm", "Confusion")
COLUMNS = ("Whole file", "Visible range")
COLLARS = (0.0, BENCH_COLLAR_S)


class ReferenceLanesItem(LanesItem):
    """Reference lanes: lane ``i`` spans ``[i, i + 1)`` in item coordinates (the
    timeline moves the item under the speaker lanes). Hatched, outlined, not clickable."""

    def paint(self, p: QPainter, *args: object) -> None:
        if not self.turns:
            return
        lane = {lab: k for k, lab in enumerate(self.labels)}
        tr = p.transform()
        p.save()
        p.resetTransform()
        font = QFont()
        font.setPointSizeF(8.0)
        font.setItalic(True)
        p.setFont(font)
        fm = QFontMetrics(font)
        for i in self._visible():
            t = self.turns[i]
            k = lane.get(t.speaker)
            if k is None:
                continue
            r = tr.mapRect(QRectF(t.start, k + 0.2, t.duration, 0.6))
            if r.width() < 1.0:
                r.setWidth(1.0)
            colour = QColor(self.colours.get(t.speaker, UNMAPPED))
            light = QColor(colour)
            light.setAlpha(70)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QBrush(light))
            p.drawRect(r)
            p.setBrush(QBrush(colour.darker(115), Qt.BrushStyle.BDiagPattern))
            p.setPen(QPen(colour.darker(140), 1.2, Qt.PenStyle.DashLine))
            p.drawRect(r)
            name = self.names.get(t.speaker, t.speaker)
            if r.width() > fm.horizontalAdvance(name) + 8:
                p.setPen(QPen(QColor("#222222")))
                p.drawText(r.adjusted(4, 0, -2, 0),
                           int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), name)
        p.restore()

    def hit(self, x: float, y: float) -> int | None:
        return None  # read-only: a click on a reference turn selects nothing

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        ev.ignore()

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph API
        ev.ignore()  # never an edit: the drag pans the view


def lane_names(labels: Sequence[str]) -> dict[str, str]:
    """``ref: speaker90``: each reference lane's name."""
    return {lab: f"{REF_PREFIX}{lab}" for lab in labels}


def lane_tips(labels: Sequence[str], mapped: Mapping[str, str], source: str) -> dict[str, str]:
    """The tooltip of each reference lane: where it comes from and the result's speaker
    DER maps onto it (``mapped``: reference label -> display name)."""
    return {lab: f"Reference speaker {lab} (from {source}, read-only); "
                 + (f"the result's {mapped[lab]} is scored as this speaker."
                    if lab in mapped else "no speaker of the result is mapped onto it.")
            for lab in labels}


def fmt_rate(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def cell_texts(s: DiarizationScores) -> list[str]:
    """The column of one range: DER, then each error as seconds and share of speech."""
    return [fmt_rate(s.der)] + [f"{v:.2f} s ({fmt_rate(s.rate(v))})"
                                for v in (s.missed, s.false_alarm, s.confusion)]


class ReferencePanel(QWidget):
    """The scores against the reference: a 4 x 2 table and the collar to use."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        self.setMinimumWidth(370)  # the table's two columns without a scroll bar
        self.title = QLabel("No reference loaded (File > Load reference…).", self)
        self.title.setWordWrap(True)
        lay.addWidget(self.title)
        row = QHBoxLayout()
        row.addWidget(QLabel("Collar:", self))
        self.collar = QComboBox(self)
        for c in COLLARS:
            self.collar.addItem(f"{c:g} s" if c else "none", c)
        self.collar.setToolTip("Seconds around each reference boundary left out of the "
                               "scores (in total, half each side), as pyannote.metrics "
                               "counts it; the benchmarks report none and 0.25 s")
        row.addWidget(self.collar)
        row.addStretch(1)
        lay.addLayout(row)
        self.table = QTableWidget(len(ROWS), len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setVerticalHeaderLabels(list(ROWS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip("pyannote.metrics: missed speech, false alarm and confusion "
                              "(after mapping the result's speakers onto the reference's) "
                              "as seconds and as a share of the reference speech; "
                              "DER is their sum over the reference speech")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay.addWidget(self.table)
        self.range_label = QLabel("", self)
        self.range_label.setWordWrap(True)
        lay.addWidget(self.range_label)
        lay.addStretch(1)
        self.clear()

    def collar_s(self) -> float:
        return float(self.collar.currentData() or 0.0)

    def clear(self, title: str = "No reference loaded (File > Load reference…).") -> None:
        self.title.setText(title)
        self.range_label.setText("")
        for r in range(len(ROWS)):
            for c in range(len(COLUMNS)):
                self.table.setItem(r, c, QTableWidgetItem("–"))

    def busy(self) -> None:
        """Scores being computed: the figures shown are about to change."""
        self.range_label.setText("Scoring…")

    def show_scores(self, title: str, whole: DiarizationScores,
                    visible: DiarizationScores) -> None:
        self.title.setText(title)
        for c, s in enumerate((whole, visible)):
            for r, text in enumerate(cell_texts(s)):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.range_label.setText(f"Visible range {visible.start:.2f}–{visible.end:.2f} s; "
                                 f"reference speech {whole.total:.1f} s in the file, "
                                 f"{visible.total:.1f} s in view.")

    def texts(self) -> dict[tuple[str, str], str]:
        """(row, column) -> the text shown, for tests and the status line."""
        out = {}
        for r, rn in enumerate(ROWS):
            for c, cn in enumerate(COLUMNS):
                item = self.table.item(r, c)
                out[(rn, cn)] = item.text() if item is not None else ""
        return out


def ref_turns(turns: Sequence[Turn]) -> list[Turn]:
    """The reference turns in drawing order (by start)."""
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
