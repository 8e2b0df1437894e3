"""Dragging a turn's start or end on the timeline's speaker lanes.

A press within :data:`EDGE_PX` pixels of a turn's edge (in that turn's lane) grabs
the edge; anywhere else the drag pans as before. While dragging, the lane shows
the turn at the new bound (snapped and clamped by :mod:`gui.edit_model`); on
release ``on_commit(index, edge, t)`` is called once, so one drag is one undo step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6.QtCore import Qt

from gui.edit_model import clamp_edge, snap_time
from gui.review_model import ReviewModel

EDGE_PX = 6.0
"""How near (pixels) a press must be to a turn's edge to grab it."""


def edge_at(lanes: Any, x: float, y: float, seconds_per_px: float) -> tuple[int, str] | None:
    """(turn index, "start" or "end") of the edge of a turn in the lane at ``y`` nearest
    to time ``x``, within :data:`EDGE_PX` pixels; None when no edge is that near."""
    k = int(np.floor(y))
    if not 0 <= k < len(lanes.labels):
        return None
    label = lanes.labels[k]
    tol = EDGE_PX * seconds_per_px
    best: tuple[float, int, str] | None = None
    for i, t in enumerate(lanes.turns):
        if t.speaker != label:
            continue
        for edge, at in (("start", t.start), ("end", t.end)):
            d = abs(x - at)
            if d <= tol and (best is None or d < best[0]):
                best = (d, i, edge)
    return (best[1], best[2]) if best is not None else None


class EdgeDrag:
    """The drag of one turn edge at a time, for a :class:`gui.timeline.LanesItem`.

    Args:
        model: the review being edited (None: nothing to drag).
        sample_rate: of the waveform shown, Hz (0: unknown, no sample snapping).
        on_commit: ``(index, edge, t)`` when a drag ends with the edge moved.
    """

    def __init__(self, model: Callable[[], ReviewModel | None], sample_rate: Callable[[], int],
                 on_commit: Callable[[int, str, float], Any]) -> None:
        self.model = model
        self.sample_rate = sample_rate
        self.on_commit = on_commit
        self.active: tuple[int, str] | None = None
        self.moved_to: float | None = None

    def target(self, lanes: Any, x: float) -> float:
        """Where the grabbed edge goes for the pointer at time ``x``: snapped, clamped."""
        model = self.model()
        assert model is not None and self.active is not None
        t = snap_time(x, self.sample_rate(), _seconds_per_px(lanes))
        return clamp_edge(model, self.active[0], self.active[1], t)

    def hover(self, lanes: Any, x: float, y: float) -> None:
        """A horizontal-resize cursor over a grabbable edge."""
        if self.model() is None or self.active is not None:
            return
        hit = edge_at(lanes, x, y, _seconds_per_px(lanes))
        if hit is not None:
            lanes.setCursor(Qt.CursorShape.SizeHorCursor)
        else:
            lanes.unsetCursor()

    def drag(self, lanes: Any, ev: Any) -> bool:
        """Handle a pyqtgraph drag event on ``lanes``; False: not an edge drag (pan)."""
        if ev.button() != Qt.MouseButton.LeftButton or self.model() is None:
            return False
        if ev.isStart():
            p = ev.buttonDownPos()
            self.active = edge_at(lanes, p.x(), p.y(), _seconds_per_px(lanes))
            self.moved_to = None
            if self.active is None:
                return False
        elif self.active is None:
            return False
        ev.accept()
        i, edge = self.active
        t = self.target(lanes, ev.pos().x())
        self.moved_to = t
        if 0 <= i < len(lanes.turns):  # preview: the lane shows the turn at the new bound
            turns = list(lanes.turns)
            turns[i] = replace(turns[i], **{edge: t})
            lanes.set_turns(turns, lanes.labels, lanes.names, lanes.colours, lanes.duration)
        if ev.isFinish():
            self.active = None
            model = self.model()
            if model is not None and abs(t - getattr(model.turns[i], edge)) > 1e-9:
                self.on_commit(i, edge, t)
        return True


def _seconds_per_px(lanes: Any) -> float:
    try:
        w = float(lanes.pixelWidth())
    except (AttributeError, RuntimeError, TypeError):
        w = 0.0
    if w > 0 and np.isfinite(w):
        return w
    vb = lanes.getViewBox()
    if vb is not None:
        (x0, x1), _ = vb.viewRange()
        return (x1 - x0) / max(vb.width(), 1.0)
    return 0.01
