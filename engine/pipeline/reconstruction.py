"""Stage 6a, reconstruction: chunk activations mapped to global clusters and overlap-added
on the global frame grid, block by block.

The number of speakers per frame is the rounded mean of the local counts and the most
active clusters win (pyannote's ``reconstruct``). Blocks of :data:`RECON_BLOCK_FRAMES`
keep memory bounded for 24 h files; the turn and confidence stages consume the blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from engine.segmentation import CHUNK_FRAMES, FRAME_SIZE, FRAME_STEP, NUM_LOCAL_SPEAKERS

RECON_BLOCK_FRAMES = 20_000
"""Global frames reconstructed at a time (~5.6 min)."""


def frame_count(total_samples: int) -> int:
    """Global segmentation frames of ``total_samples`` of audio."""
    return max(0, (total_samples - FRAME_SIZE) // FRAME_STEP + 1) if total_samples else 0


def chunk_offsets(n_chunks: int, step: int) -> np.ndarray:
    """int64 ``(n_chunks,)`` first global frame of each chunk (``step`` samples apart)."""
    return np.array([int(round(i * step / FRAME_STEP)) for i in range(n_chunks)], dtype=np.int64)


def run_tables(
    unit_rows: Sequence[np.ndarray], emb_units: np.ndarray, n_units: int, labels: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per chunk, the embedding row and the cluster of each run (-1: none).

    Args:
        unit_rows: per chunk, unit id of each run.
        emb_units: int64 ``(n_emb,)`` unit id of each embedding row.
        n_units: number of units.
        labels: int64 ``(n_emb,)`` cluster of each embedding row (-1: none).
    """
    n_emb = int(emb_units.size)
    row_of_unit = np.full(n_units + 1, -1, dtype=np.int64)
    row_of_unit[emb_units] = np.arange(n_emb)
    emb_rows = [row_of_unit[u] if u.size else u for u in unit_rows]
    tables = [
        np.where(r >= 0, labels[np.maximum(r, 0)], -1) if n_emb else r * 0 - 1 for r in emb_rows
    ]
    return emb_rows, tables


@dataclass(frozen=True)
class FrameBlock:
    """Global frames ``[f0, f1)`` after overlap-adding the chunks (``nf = f1 - f0``).

    Attributes:
        activity: float32 ``(nf, max(K, 1))`` number of chunks where each cluster is active.
        score_sum: float32 ``(nf, max(K, 1))`` sum of the active runs' scores.
        curve_sum: float32 ``(nf, rows)`` sum of the active runs' curve values.
        curve_weight: float32 ``(nf,)`` number of active runs summed in ``curve_sum``.
        active: bool ``(nf, max(K, 1))`` the clusters speaking in each frame.
    """

    f0: int
    f1: int
    activity: np.ndarray
    score_sum: np.ndarray
    curve_sum: np.ndarray
    curve_weight: np.ndarray
    active: np.ndarray


def reconstruct(
    run_maps: Sequence[np.ndarray],
    tables: Sequence[np.ndarray],
    emb_rows: Sequence[np.ndarray],
    row_score: np.ndarray,
    row_curve: np.ndarray,
    *,
    k: int,
    n_frames: int,
    offsets: np.ndarray,
    check: Callable[[], None],
) -> Iterator[FrameBlock]:
    """Yield :class:`FrameBlock` s covering frames ``0..n_frames``.

    Args:
        run_maps, tables, emb_rows: per chunk run map, cluster and embedding row of
            each run (:func:`run_tables`).
        row_score: float32 ``(n_emb + 1,)`` score of each embedding row (last: none).
        row_curve: float32 ``(n_emb + 1, rows)`` curve values of each embedding row.
        k: number of clusters; offsets: first global frame of each chunk.
    """
    rows = row_curve.shape[1]
    for f0 in range(0, n_frames, RECON_BLOCK_FRAMES):
        check()
        f1 = min(n_frames, f0 + RECON_BLOCK_FRAMES)
        nf = f1 - f0
        A = np.zeros((nf, max(k, 1)), dtype=np.float32)
        Q = np.zeros((nf, max(k, 1)), dtype=np.float32)
        cnt = np.zeros(nf, dtype=np.float32)
        cov = np.zeros(nf, dtype=np.float32)
        R = np.zeros((nf, rows), dtype=np.float32)
        Rw = np.zeros(nf, dtype=np.float32)
        c_lo = int(np.searchsorted(offsets + CHUNK_FRAMES, f0, side="right"))
        c_hi = int(np.searchsorted(offsets, f1, side="left"))
        for c in range(c_lo, c_hi):
            o = int(offsets[c])
            a0, a1 = max(f0, o), min(f1, o + CHUNK_FRAMES)
            if a1 <= a0:
                continue
            rm = run_maps[c][a0 - o : a1 - o]
            sl = slice(a0 - f0, a1 - f0)
            cov[sl] += 1.0
            cnt[sl] += (rm > 0).sum(axis=1)
            for j, kk in enumerate(tables[c]):
                if kk < 0:
                    continue
                on = (rm == j + 1).any(axis=1).astype(np.float32)
                e = int(emb_rows[c][j])
                A[sl, kk] += on
                Q[sl, kk] += on * row_score[e]
                if rows:
                    R[sl] += on[:, None] * row_curve[e][None, :]
                    Rw[sl] += on
        covered = np.maximum(cov, 1.0)
        count = np.rint(cnt / covered).astype(np.int64)
        count = np.minimum(count, k)
        active = np.zeros((nf, max(k, 1)), dtype=bool)
        if k:
            order = np.argsort(-A, axis=1, kind="stable")
            for j in range(min(k, NUM_LOCAL_SPEAKERS)):
                pick = (count > j) & (A[np.arange(nf), order[:, j]] > 0)
                active[np.flatnonzero(pick), order[pick, j]] = True
        yield FrameBlock(f0, f1, A, Q, R, Rw, active)
