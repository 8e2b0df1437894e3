"""The engine as the window sees it: one object tests can replace with fakes.

Every method that may take long is called from a job (worker thread); the
engine modules are imported lazily so the window opens at once and still works
(minus the missing feature) when one of them cannot load.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.jobs import CancelToken, ProgressFn, no_progress

SAMPLE_RATE = 16000


class Engine:
    """Facade over ``engine.audio``, ``engine.voiceprint``, ``engine.identify``,
    ``engine.formats`` and ``engine.library``."""

    sample_rate = SAMPLE_RATE

    def __init__(self, library: Any | None = None) -> None:
        self._library = library

    # -- library ---------------------------------------------------------------------
    @property
    def library(self) -> Any:
        """The voiceprint library (thread-safe; opened on first use)."""
        if self._library is None:
            from engine.library import Library

            self._library = Library()
        return self._library

    def voiceprints(self) -> dict[str, Any]:
        return dict(self.library.voiceprints())

    @property
    def default_threshold(self) -> float:
        from engine.calibration import DEFAULT_THRESHOLD

        return float(DEFAULT_THRESHOLD)

    # -- audio -----------------------------------------------------------------------
    def load_audio(self, path: str | Path, *, for_enrollment: bool = False) -> Any:
        """Decode a file to mono 16 kHz ``Audio`` (identification or voiceprint limits)."""
        from engine import audio

        limits = audio.VOICEPRINT_LIMITS if for_enrollment else audio.IDENTIFICATION_LIMITS
        return audio.load_audio(str(path), limits=limits, channel_mode="mix")

    def open_audio(self, path: str | Path, progress: ProgressFn = no_progress,
                   cancel: CancelToken | None = None) -> tuple[Any, Any]:
        """``(FileAudio, Peaks)`` of a file for the window (:mod:`engine.peak_pyramid`):
        one streaming pass, or the disk cache; no sample array is kept."""
        from engine.peak_pyramid import open_file_audio

        return open_file_audio(str(path), progress=progress, cancel=cancel)

    def audio_from_array(self, samples: np.ndarray, rate: int, source: str | None = None,
                         *, for_enrollment: bool = False) -> Any:
        """``Audio`` from a mono float array at ``rate`` Hz (resampled to 16 kHz)."""
        from engine import audio

        limits = audio.VOICEPRINT_LIMITS if for_enrollment else audio.IDENTIFICATION_LIMITS
        a = audio.load_audio(np.asarray(samples, dtype=np.float32), limits=limits,
                             sample_rate=int(rate))
        return dataclasses.replace(a, source=source) if source else a

    def excerpt(self, audio: Any, spans: Sequence[tuple[float, float]],
                max_seconds: float = 30.0) -> Any:
        """Concatenate the ``spans`` (seconds) of ``audio``, longest first, up to ``max_seconds``.

        Used to enroll from a selection or from an unknown cluster's turns: the
        voiceprint input is limited to 30 s, and the longest turns carry the
        cleanest speech. A file-backed ``audio`` (``read_frames``) is read from the
        file, span by span, at its own rate, then resampled to 16 kHz.
        """
        file_backed = hasattr(audio, "read_frames")
        rate = int(audio.sample_rate) if file_backed else SAMPLE_RATE
        n = int(audio.num_samples)
        x = None if file_backed else audio.mono()
        parts: list[np.ndarray] = []
        total = 0
        cap = int(max_seconds * rate)
        for a, b in sorted(spans, key=lambda s: s[0] - s[1]):
            i0 = max(int(a * rate), 0)
            i1 = min(int(b * rate), n)
            if i1 <= i0:
                continue
            take = min(i1 - i0, cap - total)
            parts.append(audio.read_frames(i0, i0 + take) if x is None
                         else np.asarray(x[i0 : i0 + take]))
            total += take
            if total >= cap:
                break
        data = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return self.audio_from_array(data, rate, getattr(audio, "source", None),
                                     for_enrollment=True)

    def save_wav(self, audio: Any, path: str | Path) -> None:
        from engine import audio as audio_mod
        from engine.private_files import open_private

        # a recording of someone's voice is theirs: the file is made 0600 first, and
        # libsndfile writing over an existing file keeps its mode
        open_private(path, "wb").close()
        audio_mod.save_wav(path, audio.mono())

    # -- engine work (call from jobs) --------------------------------------------------
    def warm_up(self, progress: ProgressFn = no_progress,
                cancel: CancelToken | None = None) -> None:
        """Load every model ahead of the first enrollment/identification."""
        from engine.warmup import warm_up

        warm_up(progress, cancel)

    def extract_voiceprint(self, audio: Any, progress: ProgressFn = no_progress,
                           cancel: CancelToken | None = None) -> Any:
        from engine.enroll import extract_voiceprint  # torch loads on the worker, not at start

        return extract_voiceprint(audio, progress=progress, cancel=cancel)

    @staticmethod
    def channel_count(audio: Any) -> int:
        """Channels of the file ``audio`` was decoded from (1 for a recording or an array)."""
        if getattr(audio, "source", None) is None:
            return 1
        return int(getattr(audio, "original_channels", 1))

    def identify(self, audio: Any, voiceprints: Mapping[str, Any], *,
                 num_speakers: int | None = None, threshold: float | None = None,
                 channel_mode: str = "mix", channels: Sequence[int] | None = None,
                 progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Any:
        """Identify ``audio`` (its mono mix), or with ``channel_mode="split"`` each of the
        ``channels`` (None: all) of the file it came from, streamed one by one."""
        if channel_mode == "split":
            from engine.identify_channels import identify_channels

            # the window holds the mono mix: the channels are read from the file again
            source = audio.source if getattr(audio, "source", None) else audio
            return identify_channels(source, voiceprints, channels=channels,
                                     num_speakers=num_speakers, threshold=threshold,
                                     progress=progress, cancel=cancel)
        from engine import identify

        if hasattr(audio, "read_frames"):  # a file-backed audio: the engine streams the file
            audio = audio.path
        return identify.identify(audio, voiceprints, num_speakers=num_speakers,
                                 threshold=threshold, progress=progress, cancel=cancel)

    def write_result(self, result: Any, path: str | Path, fmt: str, *, uri: str | None = None) -> None:
        """Write ``result`` as ``fmt``; ``uri`` names the recording (RTTM's file id)."""
        from engine import formats

        formats.write(result, path, fmt, uri=uri)
