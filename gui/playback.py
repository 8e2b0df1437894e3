"""Playback through a sounddevice OutputStream; the playhead follows via a QTimer.

The stream's callback runs on PortAudio's thread and only copies samples and
advances an integer position; a timer on the main thread reads that position
and emits ``position`` for the playhead.

What plays is either an array or anything with ``read_frames(start, stop)`` and
``num_samples`` (an :class:`engine.peak_pyramid.FileAudio`): then the callback reads
:data:`READ_AHEAD_SECONDS` at a time from the file, so playing a 24 h recording
holds seconds of it, not hours.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from gui.audio_devices import output_available, sounddevice

log = logging.getLogger(__name__)

READ_AHEAD_SECONDS = 2.0
"""Samples read from a file per refill of the playback buffer."""


def sound_of(audio: Any, rate: int = 16000) -> tuple[Any, int]:
    """``(what to play, its rate)`` for the window's audio: a file-backed audio as it is
    (at its own rate), an in-memory ``engine.audio.Audio`` as its mono mix at ``rate``."""
    if hasattr(audio, "read_frames"):
        return audio, int(audio.sample_rate)
    return audio.mono(), int(rate)


class Player(QObject):
    """Plays a mono float32 array, or a file's frames, from ``start`` to ``end`` seconds.

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
        self._source: Any = np.zeros(0, np.float32)
        self._buf = np.zeros(0, np.float32)  # frames [_buf_start, _buf_start + len) of it
        self._buf_start = 0
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

    def play(self, samples: Any, rate: int, start: float = 0.0,
             end: float | None = None) -> bool:
        """Start playing ``samples`` (an array, or an object with ``read_frames`` and
        ``num_samples``) at ``rate`` Hz; returns False (and emits ``error``) when no
        device can play."""
        self.stop()
        if not self.available:
            self.error.emit(self.reason)
            return False
        sd, why = sounddevice()
        if sd is None:
            self.error.emit(why)
            return False
        if hasattr(samples, "read_frames"):
            self._source = samples
            n = int(samples.num_samples)
        else:
            self._source = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
            n = self._source.size
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0
        self._rate = int(rate)
        self._pos = min(max(int(start * rate), 0), n)
        self._end = n if end is None else min(max(int(end * rate), self._pos), n)

        def callback(outdata, frames, time, status) -> None:  # PortAudio thread: no Qt here
            with self._lock:
                a = self._pos
                b = min(a + frames, self._end)
                try:
                    chunk = self.frames(a, b)
                except Exception as exc:  # the file went away: stop, silently here
                    log.info("playback read failed: %s", exc)
                    chunk, b = np.zeros(0, np.float32), self._end
                outdata[: chunk.size, 0] = chunk
                outdata[chunk.size :, 0] = 0.0
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

    def frames(self, a: int, b: int) -> np.ndarray:
        """Frames ``[a, b)`` of what plays (from the read-ahead buffer for a file)."""
        src = self._source
        if isinstance(src, np.ndarray):
            return src[a:b]
        off = a - self._buf_start
        if off < 0 or b > self._buf_start + self._buf.size:
            ahead = max(b - a, int(READ_AHEAD_SECONDS * self._rate))
            self._buf = np.asarray(src.read_frames(a, min(a + ahead, self._end)), np.float32)
            self._buf_start, off = a, 0
        return self._buf[off : off + (b - a)]

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
