"""Recording through a fake ``sounddevice`` whose stream calls back from its own thread."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import FakeEngine, FakePrompts, FakeSoundDevice, wait_for  # noqa: E402

from gui.main_window import MainWindow  # noqa: E402


@pytest.fixture
def sd(monkeypatch: pytest.MonkeyPatch) -> FakeSoundDevice:
    fake = FakeSoundDevice(rate=48000, amplitude=0.5)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    return fake


def test_recording_becomes_the_current_audio(qtbot, sd: FakeSoundDevice) -> None:
    w = MainWindow(engine=FakeEngine(), prompts=FakePrompts())
    qtbot.addWidget(w)
    assert w.actions["record"].isEnabled()
    dlg = w.record()
    assert dlg is not None and dlg.device_box.currentText() == "Fake microphone"
    dlg.record_button.click()
    assert dlg.recording
    stream = sd.streams[-1]
    assert stream.samplerate == 48000
    wait_for(qtbot, lambda: dlg._n >= 48000)  # about a second, drained by the GUI timer
    assert dlg.meter.value() == pytest.approx(54, abs=1)  # 0.5 peak = -6 dBFS on a -60..0 scale
    assert dlg.elapsed.text().startswith("0:0")
    assert dlg.warning.text() == ""  # no clipping at 0.5
    dlg.stop_button.click()
    assert not stream.active and not dlg.recording
    # every block the callback produced reached the recording, in order
    assert dlg.samples.size == stream.frames_sent
    t = np.arange(dlg.samples.size) / 48000
    np.testing.assert_allclose(dlg.samples, 0.5 * np.sin(2 * np.pi * 440 * t), atol=1e-4)
    dlg.use_button.click()
    wait_for(qtbot, lambda: w.audio is not None)
    assert w.audio.duration == pytest.approx(dlg.samples.size / 48000, abs=1e-3)
    assert w.audio_path is None and w.windowTitle().startswith("recording")
    # resampled to 16 kHz, still a 440 Hz tone
    x = np.asarray(w.audio.mono())
    spec = np.abs(np.fft.rfft(x))
    assert np.argmax(spec) * 16000 / x.size == pytest.approx(440, abs=2)


def test_clipping_warning_and_enroll_from_recording(qtbot, monkeypatch, sd) -> None:
    sd.amplitude = 1.0
    w = MainWindow(engine=FakeEngine(), prompts=FakePrompts(texts=["Gina"]))
    qtbot.addWidget(w)
    dlg = w.record(enroll=True)
    assert not dlg.use_button.isVisible()
    dlg.start()
    wait_for(qtbot, lambda: dlg._n >= 4 * 48000)
    wait_for(qtbot, lambda: "Clipping" in dlg.warning.text())
    dlg.enroll_button.setEnabled(True)
    dlg.enroll_button.click()
    wait_for(qtbot, lambda: len(w.speakers) == 1)
    assert w.speakers[0].name == "Gina"
    assert w.speakers[0].seconds >= 4.0


def test_no_input_device_disables_the_recorder(qtbot, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(with_input=False))
    from gui.record_dialog import RecordDialog

    dlg = RecordDialog()
    qtbot.addWidget(dlg)
    assert not dlg.record_button.isEnabled()
    assert "no sound card or microphone" in dlg.warning.text()
    assert dlg.start() is False


def test_playback_of_a_segment_moves_the_playhead(qtbot, sd: FakeSoundDevice) -> None:
    w = MainWindow(engine=FakeEngine(), prompts=FakePrompts())
    qtbot.addWidget(w)
    assert w.player.available
    w.open_path(Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav")
    wait_for(qtbot, lambda: w.audio is not None)
    assert w.actions["play"].isEnabled()
    w.timeline.set_selection(10.0, 11.0)
    w.timeline.set_playhead(10.0)
    seen: list[float] = []
    w.player.position.connect(seen.append)
    w.actions["play"].trigger()  # Space: from the playhead to the end of the selection
    assert w.player.playing
    wait_for(qtbot, lambda: not w.player.playing)
    played = np.concatenate(sd.out_streams[-1].played)
    x = w.audio.read_frames(0, w.audio.num_samples)
    np.testing.assert_array_equal(played[:16000], x[160000:176000])  # exactly 10 s .. 11 s
    assert np.all(played[16000:] == 0)
    assert seen and 10.0 <= min(seen) and max(seen) == pytest.approx(11.0)
    assert w.timeline.playhead == pytest.approx(11.0)
