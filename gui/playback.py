"""Playback through a sounddevice OutputStream; the playhead follows via a QTimer.

The stream's callback runs on PortAudio's thread and only copies samples and
advances an integer position; a timer on the main thread reads that position
and emits ``position`` for the playhead.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from gui.audio_devices import output_available, sounddevice

log = logging.getLogger(__name__)


class Player(QObject):
    """Plays a mono float32 array from ``start`` to ``end`` seconds.

    Signals:
        position(float): current playback time, seconds (about 30 times a second).
        stateChanged(bool): playing or not.
        error(str): the device failed.
    """

    position = Signal(float)
    stateChanged = Signal(bool)
    error = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.available, self.reason = output_available()
        self._stream = None
        self._samples = np.zeros(0, np.float32)
        self._rate = 16000
        self._pos = 0
        self._end = 0
        self._lock = threading.Lock()
        self._timer = QTimer(self)
        self._timer.setInterval(33)
        self._timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self._stream is not None

    def play(self, samples: np.ndarray, rate: int, start: float = 0.0,
             end: float | None = None) -> bool:
        """Start playing; returns False (and emits ``error``) when no device can play."""
        self.stop()
        if not self.available:
            self.error.emit(self.reason)
            return False
        sd, why = sounddevice()
        if sd is None:
            self.error.emit(why)
            return False
        self._samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
        self._rate = int(rate)
        n = self._samples.size
        self._pos = min(max(int(start * rate), 0), n)
        self._end = n if end is None else min(max(int(end * rate), self._pos), n)

        def callback(outdata, frames, time, status) -> None:  # PortAudio thread: no Qt here
            with self._lock:
                a = self._pos
                b = min(a + frames, self._end)
                outdata[: b - a, 0] = self._samples[a:b]
                outdata[b - a :, 0] = 0.0
                self._pos = b
            if b >= self._end:
                raise sd.CallbackStop()

        try:
            self._stream = sd.OutputStream(samplerate=self._rate, channels=1, dtype="float32",
                                           callback=callback)
            self._stream.start()
        except Exception as exc:
            self._stream = None
            self.error.emit(f"Cannot play audio: {exc}")
            return False
        self._timer.start()
        self.stateChanged.emit(True)
        return True

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        self._timer.stop()
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:
                log.info("closing output stream: %s", exc)
            self.stateChanged.emit(False)

    def _tick(self) -> None:
        with self._lock:
            pos = self._pos
        self.position.emit(pos / self._rate)
        active = self._stream is not None and bool(getattr(self._stream, "active", False))
        if pos >= self._end or not active:
            self.stop()
