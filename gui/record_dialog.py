"""Record from an input device: live level meter, elapsed time, clipping warning.

The sounddevice callback (PortAudio's thread) only puts copies of the blocks in
a ``queue.Queue``; a QTimer on the main thread drains it, so no Qt object is
touched off the main thread. The result is mono float32 at the device rate;
the caller resamples to 16 kHz through the engine.
"""

from __future__ import annotations

import logging
import queue
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.audio_devices import default_input_index, input_devices, sounddevice

log = logging.getLogger(__name__)
CLIP_LEVEL = 0.99
MAX_RECORD_S = 4 * 3600  # bounded memory: 4 h of mono float32 at 48 kHz is ~2.7 GB at most


class RecordDialog(QDialog):
    """Modal recorder. After ``accept()``: ``samples`` (mono float32), ``rate`` (Hz) and
    ``purpose`` (``"audio"``: use as current audio, ``"enroll"``: enroll a speaker)."""

    def __init__(self, parent: QWidget | None = None, *, allow_enroll: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("Record")
        self.setMinimumWidth(420)
        self.samples = np.zeros(0, np.float32)
        self.rate = 16000
        self.purpose = "audio"
        self.clipped = 0
        self._blocks: list[np.ndarray] = []
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self._stream = None
        self._started = 0.0
        self._n = 0
        self._peak_hold = 0.0

        self.devices, self.reason = input_devices()
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.device_box = QComboBox(self)
        for d in self.devices:
            self.device_box.addItem(f"{d['name']}", d["index"])
        default = default_input_index(self.devices) if self.devices else None
        if default is not None:
            self.device_box.setCurrentIndex(self.device_box.findData(default))
        form.addRow("Input device", self.device_box)
        self.meter = QProgressBar(self)
        self.meter.setRange(0, 60)  # dBFS from -60 to 0
        self.meter.setTextVisible(False)
        form.addRow("Level", self.meter)
        self.elapsed = QLabel("0:00.0", self)
        form.addRow("Elapsed", self.elapsed)
        layout.addLayout(form)
        self.warning = QLabel("", self)
        self.warning.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.warning.setWordWrap(True)
        layout.addWidget(self.warning)

        row = QHBoxLayout()
        self.record_button = QPushButton("● Record", self)
        self.stop_button = QPushButton("■ Stop", self)
        self.stop_button.setEnabled(False)
        row.addWidget(self.record_button)
        row.addWidget(self.stop_button)
        layout.addLayout(row)
        self.buttons = QDialogButtonBox(self)
        self.use_button = self.buttons.addButton("Use as audio",
                                                 QDialogButtonBox.ButtonRole.AcceptRole)
        self.enroll_button = self.buttons.addButton("Enroll speaker…",
                                                    QDialogButtonBox.ButtonRole.AcceptRole)
        self.enroll_button.setVisible(allow_enroll)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.use_button.setEnabled(False)
        self.enroll_button.setEnabled(False)
        layout.addWidget(self.buttons)

        self.record_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.use_button.clicked.connect(lambda: self._finish("audio"))
        self.enroll_button.clicked.connect(lambda: self._finish("enroll"))
        self.buttons.rejected.connect(self.reject)
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self.drain)
        if not self.devices:
            self.record_button.setEnabled(False)
            self.warning.setText(self.reason)

    # -- recording ---------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self._stream is not None

    def start(self) -> bool:
        sd, why = sounddevice()
        if sd is None or not self.devices:
            self.warning.setText(why or self.reason)
            return False
        device = self.device_box.currentData()
        info = next((d for d in self.devices if d["index"] == device), self.devices[0])
        self.rate = int(float(info.get("default_samplerate", 16000)) or 16000)
        self._blocks, self._n, self.clipped = [], 0, 0
        q = self._queue

        def callback(indata, frames, time_info, status) -> None:  # PortAudio thread
            q.put(np.array(indata[:, 0], dtype=np.float32, copy=True))

        try:
            self._stream = sd.InputStream(device=device, channels=1, samplerate=self.rate,
                                          dtype="float32", callback=callback)
            self._stream.start()
        except Exception as exc:  # PortAudioError, OSError, ValueError from a bad device
            self._stream = None
            self.warning.setText(f"Cannot record from this device: {exc}")
            return False
        self._started = time.monotonic()
        self.warning.setText("")
        self.record_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.device_box.setEnabled(False)
        self.use_button.setEnabled(False)
        self.enroll_button.setEnabled(False)
        self._timer.start()
        return True

    def drain(self) -> None:
        """Move queued blocks into the recording and update meter, time and warnings."""
        peak = 0.0
        got = False
        while True:
            try:
                block = self._queue.get_nowait()
            except queue.Empty:
                break
            got = True
            self._blocks.append(block)
            self._n += block.size
            if block.size:
                peak = max(peak, float(np.max(np.abs(block))))
                self.clipped += int(np.count_nonzero(np.abs(block) >= CLIP_LEVEL))
        if got:
            self._peak_hold = max(peak, self._peak_hold * 0.7)
            db = 20 * np.log10(max(self._peak_hold, 1e-6))
            self.meter.setValue(int(round(min(max(db + 60, 0), 60))))
        secs = self._n / self.rate if self.rate else 0.0
        m, s = divmod(secs, 60)
        self.elapsed.setText(f"{int(m)}:{s:04.1f}")
        if self.clipped:
            self.warning.setText(
                f"Clipping: {self.clipped} samples hit full scale. Move away from the "
                "microphone or turn the input gain down."
            )
        if secs >= MAX_RECORD_S:
            self.stop()

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:
                log.info("closing input stream: %s", exc)
        self._timer.stop()
        self.drain()
        self.samples = (np.concatenate(self._blocks) if self._blocks
                        else np.zeros(0, np.float32))
        self.record_button.setEnabled(bool(self.devices))
        self.stop_button.setEnabled(False)
        self.device_box.setEnabled(True)
        has = self.samples.size > 0
        self.use_button.setEnabled(has)
        self.enroll_button.setEnabled(has)

    def _finish(self, purpose: str) -> None:
        if self.recording:
            self.stop()
        self.purpose = purpose
        self.accept()

    def reject(self) -> None:
        if self.recording:
            self.stop()
        super().reject()

    def keyPressEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if ev.key() == Qt.Key.Key_Space and self.recording:
            self.stop()
            return
        super().keyPressEvent(ev)
