"""Stage 1, segmentation: 10 s chunks -> up to three local speakers' activity per frame.

pyannote segmentation-3.0 (:mod:`engine.segmentation`); its "no speech" class is the
voice activity.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from engine.pipeline.runtime import ModelWorker, Pacer
from engine.pipeline.source import Chunk
from engine.segmentation import (
    CHUNK_FRAMES,
    FRAME_SIZE,
    FRAME_STEP,
    NUM_LOCAL_SPEAKERS,
    Segmenter,
    powerset_to_speakers,
)

SILENCE_PEAK = 10 ** (-60 / 20)
"""Chunks whose peak stays under -60 dBFS are not segmented (no speech)."""


def segment_chunks(
    chunks: Sequence[Chunk], segmenter: Segmenter, work: ModelWorker, pace: Pacer
) -> np.ndarray:
    """Local speaker activity of a batch of chunks.

    Near-digital silence holds no speaker, so such chunks skip the model (long silent
    recordings); frames past the end of the audio are inactive.

    Returns:
        uint8 ``(len(chunks), CHUNK_FRAMES, NUM_LOCAL_SPEAKERS)``, 1 where active.
    """
    x = np.stack([c.samples for c in chunks])
    loud = np.abs(x).max(axis=1) >= SILENCE_PEAK
    a = np.zeros((len(chunks), CHUNK_FRAMES, NUM_LOCAL_SPEAKERS), dtype=np.uint8)
    if loud.any():
        t0 = time.perf_counter()
        logp = work(segmenter.run, x[loud])
        pace.timed(int(loud.sum()), time.perf_counter() - t0)
        a[loud] = powerset_to_speakers(logp).astype(np.uint8)
    for c, act in zip(chunks, a, strict=True):
        valid = min(CHUNK_FRAMES, max(0, (c.valid - FRAME_SIZE) // FRAME_STEP + 1))
        act[valid:] = 0
    return a
