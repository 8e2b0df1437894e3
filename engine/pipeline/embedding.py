"""Stage 3, embedding: one diarization-model embedding per unit.

The diarization encoder is CAM++ (:mod:`engine.campp`), about a quarter of ECAPA's cost
per second of audio: a conversation has ~750 pause-delimited units per hour. Pending
speech is embedded in batches of similar lengths (little padding) whose size a
:class:`~engine.pipeline.runtime.Pacer` keeps at about 1.5 s of wall time per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.pipeline.frames import SAMPLE_RATE
from engine.pipeline.linking import EmbedRequest, SpeechLoc, Units
from engine.pipeline.runtime import ModelWorker, Pacer
from engine.segments import readonly

EMBED_SECONDS = 2.5
"""Most speech (seconds, the middle of the unit's chosen stretch) the diarization encoder
embeds per unit. The cost of CAM++ is linear in it; the voiceprint model still reads the
whole stretch (:mod:`engine.pipeline.cluster_voiceprint`). 3 s is all of it: 2 s cut
CAM++'s work by 28 % with the same dev-set scores, but split the pyannote sample into
3 speakers (DER 6.9 % to 22 %; ``bench/bench_identify.py --sweep`` and issue 15).
2.5 s since issue 11, whose shorter units and cuts at short pauses embed more stretches
(CAM++ audio per hour 1360 -> 1889 s at 3 s, 1532 s at 2.5 s, in the settings of that
day): the dev set was unchanged (right 97.4 %, strangers 2.0 %, DER25 4.3 -> 4.4 %) and so
was the pyannote sample (DER 5.4 %, 2 speakers). 2.25 / 2.0 s cost right names (97.8 /
97.6 % against 98.2 % with the final settings). With all of issue 11 the 1 h bench is
still 10 % slower than before it (29.9 s against 27.1 s, 1662 s of CAM++ audio)."""


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm (all-zero rows stay zero), float32."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class UnitEmbeddings:
    """The embedded units, one row each, in unit-id order.

    Attributes:
        units: int64 ``(n,)`` unit ids.
        vectors: float32 ``(n, d)`` unit-norm diarization-model embeddings.
        clean: float64 ``(n,)`` seconds of clean speech in each embedded stretch.
        weight: float64 ``(n,)`` the unit's seconds of activity (at least 0.1): its
            weight in clustering.
        locs: per row, :class:`SpeechLoc` of the embedded speech.
    """

    units: np.ndarray
    vectors: np.ndarray
    clean: np.ndarray
    weight: np.ndarray
    locs: tuple[SpeechLoc, ...]

    @property
    def count(self) -> int:
        return int(self.units.shape[0])


def _middle(samples: np.ndarray, most: int) -> np.ndarray:
    """The middle ``most`` samples of ``samples`` (all of them when shorter), a view."""
    n = int(samples.shape[0])
    if n <= most:
        return samples
    lo = (n - most) // 2
    return samples[lo : lo + most]


class UnitEmbedder:
    """Collects :class:`EmbedRequest` s and embeds them in paced batches.

    Args:
        encoder: the diarization encoder (``embed(windows, lengths=...)``).
        work: runs the model call (cancel-aware).
        pace: batch size in samples.
        check: raises when cancelled.
    """

    def __init__(
        self, encoder: Any, work: ModelWorker, pace: Pacer, check: Callable[[], None]
    ) -> None:
        self._encoder = encoder
        self._work = work
        self._pace = pace
        self._check = check
        self._pend: list[tuple[int, float, np.ndarray]] = []  # (unit, clean s, samples)
        self._vec: dict[int, np.ndarray] = {}
        self._clean: dict[int, float] = {}

    def submit(self, requests: Iterable[EmbedRequest]) -> None:
        most = max(1, int(round(EMBED_SECONDS * SAMPLE_RATE)))
        self._pend.extend((r.unit, r.clean_seconds, _middle(r.samples, most)) for r in requests)

    def flush(self, force: bool) -> None:
        """Embed pending speech while a full batch is pending (all of it if ``force``)."""
        pend = self._pend
        pace = self._pace
        while pend and (force or sum(p[2].shape[0] for p in pend) >= pace.size):
            pend.sort(key=lambda p: p[2].shape[0])
            take: list[tuple[int, float, np.ndarray]] = []
            longest = 0
            while pend and (
                not take or (len(take) + 1) * max(longest, pend[0][2].shape[0]) <= pace.size
            ):
                p = pend.pop(0)
                longest = max(longest, p[2].shape[0])
                take.append(p)
            self._check()
            lens = np.array([p[2].shape[0] for p in take], dtype=np.int64)
            batch = np.zeros((len(take), int(lens.max())), dtype=np.float32)
            for i, p in enumerate(take):
                batch[i, : p[2].shape[0]] = p[2]
            t0 = time.perf_counter()
            e = np.asarray(self._work(self._encoder.embed, batch, lengths=lens), dtype=np.float32)
            pace.timed(float(batch.size), time.perf_counter() - t0)
            for p, v in zip(take, e, strict=True):
                self._vec[p[0]] = v
                self._clean[p[0]] = p[1]

    def result(self, units: Units, dim: int) -> UnitEmbeddings:
        """The embeddings of every embedded unit (call after ``flush(True)``).

        ``dim`` sizes the empty result when nothing was embedded.
        """
        ids = np.array(sorted(self._vec), dtype=np.int64)
        n = int(ids.size)
        x = (
            normalize_rows(np.stack([self._vec[int(u)] for u in ids]))
            if n
            else np.zeros((0, max(dim, 1)), np.float32)
        )
        clean = np.array([self._clean[int(u)] for u in ids], dtype=np.float64)
        weight = np.maximum(np.array([units.speech[int(u)] for u in ids]), 0.1)
        return UnitEmbeddings(
            units=readonly(ids),
            vectors=readonly(x),
            clean=readonly(clean),
            weight=readonly(np.asarray(weight, dtype=np.float64)),
            locs=tuple(units.locs[int(u)] for u in ids),
        )
