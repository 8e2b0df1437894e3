"""Frame and sample geometry shared by the stages: runs of active frames, and the
samples of a chunk under a frame mask.

A chunk is ``CHUNK_FRAMES`` segmentation frames of 16.875 ms (:mod:`engine.segmentation`);
frame ``i`` owns the ``FRAME_STEP`` samples around its centre.
"""

from __future__ import annotations

import numpy as np

from engine.segmentation import CHUNK_SAMPLES, FRAME_CENTER_S, FRAME_STEP

SAMPLE_RATE = 16000


def runs_of(on: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` frame spans of ``on`` joined across gaps shorter than ``gap``."""
    d = np.diff(np.concatenate([[0], (on > 0).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    out: list[tuple[int, int]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if out and a - out[-1][1] < gap:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def frame_mask_to_samples(mask: np.ndarray) -> np.ndarray:
    """Boolean ``(CHUNK_SAMPLES,)``: samples of a chunk covered by the frames in ``mask``
    (bool ``(CHUNK_FRAMES,)``)."""
    sm = np.zeros(CHUNK_SAMPLES, dtype=bool)
    first = int(round(FRAME_CENTER_S * SAMPLE_RATE)) - FRAME_STEP // 2
    idx = np.flatnonzero(mask)
    if idx.size:
        starts = first + idx * FRAME_STEP
        sm_idx = (starts[:, None] + np.arange(FRAME_STEP)[None, :]).reshape(-1)
        sm_idx = sm_idx[(sm_idx >= 0) & (sm_idx < CHUNK_SAMPLES)]
        sm[sm_idx] = True
    return sm


def speech_samples(chunk: np.ndarray, frames: np.ndarray, most: int) -> np.ndarray:
    """The samples of ``chunk`` under the frame mask ``frames``, at most ``most`` of them
    (the middle ones): float32 ``(n,)``, a copy."""
    samples = chunk[frame_mask_to_samples(frames)]
    if samples.shape[0] > most:
        mid = (samples.shape[0] - most) // 2
        samples = samples[mid : mid + most]
    return np.array(samples, dtype=np.float32)


def run_frames(run_map: np.ndarray, run: int, clean: bool) -> np.ndarray:
    """Frame mask of run ``run`` in a chunk's run map (only its single-speaker frames
    when ``clean``)."""
    mask = (run_map == run + 1).any(axis=1)
    if clean:
        mask &= (run_map > 0).sum(axis=1) == 1
    return mask
