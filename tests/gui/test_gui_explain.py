"""Why a cluster got its name: tooltips on turns (segment table) and lanes (timeline)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import make_result, wait_for  # noqa: E402

from engine.identify import ClusterInfo  # noqa: E402
from gui import explain  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav"
CENT = np.zeros(4, np.float32)


def _clusters(alice_id: str) -> tuple[ClusterInfo, ...]:
    return (
        ClusterInfo("SPEAKER_00", alice_id, 91.0, 6.0, CENT, ((alice_id, 91.0),),
                    candidates=((alice_id, 91.0, 7.25), ("999", 12.0, -0.4)), margin=79.0,
                    reason="named"),
        ClusterInfo("SPEAKER_01", "UNKNOWN_00", 63.0, 6.0, CENT, ((alice_id, 63.0),),
                    candidates=((alice_id, 63.0, 1.1),), margin=3.0, reason="not-distinct"),
    )


def test_cluster_text_and_lanes():
    c = _clusters("7")
    names = {"7": "Alice", "999": "Bob"}
    text = explain.cluster_text(c[0], lambda v: names.get(v, v))
    assert text is not None
    assert text.splitlines()[0].startswith("SPEAKER_00: named")
    assert "Alice: score 91, normalised +7.2" in text and "Bob: score 12" in text
    assert "margin over the next candidate: 79 points" in text
    assert explain.cluster_text(ClusterInfo("SPEAKER_02", "UNKNOWN_01", 0, 1, CENT), str) is None
    by = explain.cluster_texts(c, str)
    assert set(by) == {"SPEAKER_00", "SPEAKER_01"}
    assert "not clearly closer" in by["SPEAKER_01"]
    turns = make_result(8.0, ["7", "UNKNOWN_00"]).turns
    lanes = explain.lane_texts(turns, by)
    assert lanes == {"7": by["SPEAKER_00"], "UNKNOWN_00": by["SPEAKER_01"]}


def test_window_tooltips_say_why(qtbot, win: MainWindow):
    from PySide6.QtCore import Qt

    from tests._helpers_gui import fake_voiceprint

    alice = win.engine.library.enroll("Alice", fake_voiceprint(1), 5.0, "a.wav")
    aid = str(alice.id)

    def ident(audio, vps, cancel, progress):
        r = make_result(audio.duration, [aid, "UNKNOWN_00"])
        return dataclasses.replace(r, clusters=_clusters(aid))

    win.engine.identify_fn = ident
    win.refresh_library()
    win.open_path(SAMPLE)
    wait_for(qtbot, lambda: win.audio is not None)
    win.run_identify()
    wait_for(qtbot, lambda: win.review is not None and not win.bridge.busy)
    model = win.table_model
    row_of = {model.turns[r].cluster: r for r in range(model.rowCount())}
    tip = model.data(model.index(row_of["SPEAKER_00"], 3), Qt.ItemDataRole.ToolTipRole)
    assert "SPEAKER_00: named" in tip and "Alice: score 91" in tip
    tip1 = model.data(model.index(row_of["SPEAKER_01"], 0), Qt.ItemDataRole.ToolTipRole)
    assert "not clearly closer" in tip1 and "margin over the next candidate: 3 points" in tip1
    lanes = win.timeline.lanes
    k = lanes.labels.index(aid)
    assert "Alice: score 91" in (lanes.tooltip_at(1.0, k + 0.5) or "")
    assert lanes.tooltip_at(1.0, len(lanes.labels) + 1) is None

    class Hover:
        def __init__(self, exit_: bool) -> None:
            self._exit = exit_

        def isExit(self) -> bool:  # noqa: N802 - pyqtgraph API
            return self._exit

        def pos(self):
            from PySide6.QtCore import QPointF

            return QPointF(1.0, k + 0.5)

    lanes.hoverEvent(Hover(False))
    assert "Alice: score 91" in lanes.toolTip()
    lanes.hoverEvent(Hover(True))
    assert lanes.toolTip() == ""
