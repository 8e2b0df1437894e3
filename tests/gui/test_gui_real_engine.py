"""The window with the REAL engine: enroll one of the two speakers of the shipped
recording from the timeline, identify it, and check lanes, curve and table against the
result (the other speaker must stay unknown); and ``voiceprint-studio --self-test``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import FakePrompts, FakeSoundDevice, wait_for  # noqa: E402

from engine.segments import is_unknown  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav"
ROOT = Path(__file__).resolve().parents[2]



pytestmark = pytest.mark.slow


def test_enroll_and_identify_with_the_real_engine(qtbot, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(with_input=False))
    from gui.main_window import MainWindow

    w = MainWindow(prompts=FakePrompts())
    qtbot.addWidget(w)
    w.open_path(SAMPLE)
    wait_for(qtbot, lambda: w.audio is not None, 30)
    # reference turns from pyannote_sample.rttm: speaker90 alone 10.57-14.49, 18.59-21.49;
    # speaker91 alone 21.78-27.85
    w.prompts.texts = ["Ninety"]
    w.enroll_spans([(10.6, 14.45), (18.65, 21.45)])
    wait_for(qtbot, lambda: len(w.speakers) == 1 or bool(w.prompts.errors), 180)
    assert not w.prompts.errors
    ids = {s.name: str(s.id) for s in w.speakers}
    assert w.speakers[0].seconds > 3.0
    assert "Net speech" in w.prompts.asked[-1]  # the quality report was shown

    w.run_identify()
    wait_for(qtbot, lambda: (w.review is not None and not w.bridge.busy)
             or bool(w.prompts.errors), 240)
    assert not w.prompts.errors
    r = w.result
    assert r.turns, "no turns"
    assert w.timeline.lanes.labels == w.review.labels()
    assert len(w.timeline.lanes.rects()) == len(r.turns)
    assert w.table_model.rowCount() == len(r.turns)
    for row, t in enumerate(w.review.turns):
        start, end, _dur, name, score = w.table_model.row_values(row)
        assert (start, end, score) == (t.start, t.end, t.score)
        assert name == w.name_of(t.speaker)
    cx, cy = w.timeline.conf_curve.getData()
    # the curve is the engine's, read as the table reads it (never above a turn's score)
    from gui.confidence_view import table_confidence

    np.testing.assert_allclose(cy, table_confidence(r.confidence, r.turns, w.review.turns),
                               rtol=1e-6)
    for t in r.turns:
        i0, i1 = np.searchsorted(cx, [t.start, t.end])
        others = [u for u in r.turns if u is not t and u.end > t.start and u.start < t.end]
        if not others:
            assert float(np.max(cy[i0:i1], initial=0.0)) <= t.score + 1e-3
    assert 0.0 <= float(np.min(cy)) and float(np.max(cy)) <= 100.0

    def who(t: float) -> str | None:
        i = w.review.turn_at(t)
        return None if i is None else w.review.turns[i].speaker

    assert who(12.0) == ids["Ninety"]
    assert who(25.0) is not None and is_unknown(who(25.0))  # never enrolled: stays unknown
    assert w.name_of(who(12.0)) == "Ninety"


def test_self_test_command_exits_zero(tmp_path: Path) -> None:
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "gui", "--self-test", "--home", str(tmp_path / "home")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["ok"] is True
    assert [s["name"] for s in summary["engine"]["steps"]] == [
        "audio", "vad", "embed", "voiceprint", "compare", "identify"]
    assert summary["gui"]["window"] is True
    assert "Speakers" in summary["gui"]["menus"]
    assert (tmp_path / "home" / "logs").is_dir()  # --home took effect


def test_split_channels_with_the_real_engine(qtbot, monkeypatch) -> None:
    """The two-channel call: split mode names each party on its own channel."""
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(with_input=False))
    from engine.encoder import default_encoder
    from engine.voiceprint import Voiceprint
    from gui.main_window import MainWindow
    from tests import _helpers_call as C

    w = MainWindow(prompts=FakePrompts())
    qtbot.addWidget(w)
    enc = default_encoder()
    ids = {}
    for ch, name in C.NAMES.items():
        clip = C.enrollment_clip(ch)
        info = w.engine.library.enroll(name, Voiceprint(enc.embed(clip[None])[0], enc.model_id),
                                       clip.size / 16000, "call source")
        ids[ch] = str(info.id)
    w.refresh_library()
    w.open_path(C.OUT)
    wait_for(qtbot, lambda: w.audio is not None, 30)
    assert w.channel_options_visible()
    w.channel_mode.setCurrentIndex(w.channel_mode.findData("split"))
    w.run_identify()
    wait_for(qtbot, lambda: (w.review is not None and not w.bridge.busy)
             or bool(w.prompts.errors), 240)
    assert not w.prompts.errors
    by_channel = {ch: {t.speaker for t in w.review.turns if t.channel == ch} for ch in (0, 1)}
    assert by_channel == {0: {ids[0]}, 1: {ids[1]}}
    m = w.table_model
    assert not w.table.isColumnHidden(5)
    for row, t in enumerate(w.review.turns):
        assert m.data(m.index(row, 5), 256) == t.channel
        assert m.row_values(row)[3] == C.NAMES[t.channel]
    ticks = [name for _, name in w.timeline.lanes_plot.getAxis("left")._tickLevels[0]]
    assert ticks[0].startswith("ch0 Austen") and ticks[1].startswith("ch1 Chan3")
