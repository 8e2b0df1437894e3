"""Stage 4b, each cluster in the voiceprint model's space.

When clustering used another model (CAM++), each cluster's most typical units (closest
to its centroid, at most :data:`ID_SECONDS_PER_CLUSTER`) are read again and embedded
with the voiceprint model (ECAPA): that embedding is what is compared with the library,
so voiceprints, calibration and scores are the voiceprint model's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.encoder import MIN_WINDOW_SAMPLES
from engine.pipeline.embedding import normalize_rows
from engine.pipeline.frames import SAMPLE_RATE, run_frames, speech_samples
from engine.pipeline.linking import MAX_EMBED_SECONDS, SpeechLoc
from engine.pipeline.runtime import ModelWorker
from engine.pipeline.source import BlockSource, iter_chunks
from engine.segments import readonly

MIN_TYPICAL_CLEAN_SECONDS = 1.0
"""Members with at least this much clean speech are preferred as a cluster's typical
speech (the same bar as :data:`engine.pipeline.clustering.MIN_CLUSTER_SPEECH`)."""
ID_SECONDS_PER_CLUSTER = 18.0
"""Audio per cluster embedded with the voiceprint model when clustering used another one."""
ID_UNITS_PER_CLUSTER = 8
"""At most this many stretches per cluster make its voiceprint-model embedding."""
ID_BATCH = 4
"""Stretches (<= 3 s each) per voiceprint-model call in the identification pass: ECAPA
needs ~17 MB of activations per second of audio in a batch, so 12 s stay ~0.2 GB."""


def pick_typical(
    x: np.ndarray,
    centroid: np.ndarray,
    clean: np.ndarray,
    length: np.ndarray,
    *,
    seconds: float = ID_SECONDS_PER_CLUSTER,
    most: int = ID_UNITS_PER_CLUSTER,
) -> np.ndarray:
    """Indices of the members that best represent a cluster, for its voiceprint-model
    embedding: those with at least :data:`MIN_TYPICAL_CLEAN_SECONDS` of clean speech,
    closest to the centroid first, up to ``seconds`` of audio and ``most`` members
    (:data:`ID_SECONDS_PER_CLUSTER`, :data:`ID_UNITS_PER_CLUSTER`).

    Args:
        x: ``(n, d)`` unit-norm member embeddings; centroid: ``(d,)``.
        clean: ``(n,)`` clean seconds of each member's embedded speech.
        length: ``(n,)`` seconds of each member's embedded audio.
    """
    good = clean >= MIN_TYPICAL_CLEAN_SECONDS
    cos = x @ centroid
    order = np.lexsort((-cos, ~good))  # good members first, then by closeness
    out: list[int] = []
    total = 0.0
    for i in order.tolist():
        if out and (total + length[i] > seconds or len(out) >= most):
            break
        out.append(i)
        total += float(length[i])
    return np.array(out, dtype=np.int64)


PART_MIN_SECONDS = 8.0
"""A cluster is checked for a mix of two voices only when both of its two halves (split
by the diarization model) hold at least this much speech."""


@dataclass(frozen=True)
class ClusterVoiceprints:
    """Voiceprint-model embeddings of the clusters and, when asked, of their two parts.

    Attributes:
        cents: float32 ``(K, d)`` unit-norm cluster embeddings (zero rows: no speech).
        parts: float32 ``(K, 2, d)`` unit-norm embeddings of each cluster's two parts
            (zero rows where a cluster was not split), or None when not asked.
        part_of_row: int64 ``(n,)`` part (0, 1) of each embedding row; -1 where its
            cluster was not split (or for rows without a cluster).
    """

    cents: np.ndarray
    parts: np.ndarray | None
    part_of_row: np.ndarray


def two_parts(x: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """int64 ``(n,)`` 0/1: a cluster's members cut in two by average-linkage clustering,
    or None when either part has under :data:`PART_MIN_SECONDS` (``w``: seconds)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if x.shape[0] < 2 or float(w.sum()) < 2 * PART_MIN_SECONDS:
        return None
    z = linkage(x, method="average", metric="cosine")
    lab = (fcluster(z, t=2, criterion="maxclust") - 1).astype(np.int64)
    if lab.max() < 1:
        return None
    secs = np.bincount(lab, weights=w, minlength=2)
    return lab if float(secs.min()) >= PART_MIN_SECONDS else None


def cluster_embeddings(
    open_blocks: BlockSource,
    step: int,
    run_maps: Sequence[np.ndarray],
    locs: Sequence[SpeechLoc],
    x: np.ndarray,
    labels: np.ndarray,
    cents: np.ndarray,
    clean: np.ndarray,
    encoder: Any,
    work: ModelWorker,
    check: Callable[[], None],
    *,
    weight: np.ndarray | None = None,
) -> ClusterVoiceprints:
    """Voiceprint-model embedding of each cluster, from its most typical stretches.

    The audio is read a second time (``open_blocks``; streamed again for a path) up to
    the last chunk needed; each chosen stretch is cut exactly as it was for the
    diarization encoder.

    Args:
        step: samples between chunk starts.
        run_maps: per chunk run map (:class:`engine.pipeline.linking.Units`).
        locs: per embedding row, :class:`SpeechLoc` of its speech.
        x: ``(n, d)`` diarization embeddings; labels: ``(n,)`` clusters; cents:
            ``(K, d)`` their centroids; clean: ``(n,)`` clean seconds per row.
        weight: ``(n,)`` seconds of speech per row: when given, each cluster whose
            two halves (:func:`two_parts`) both hold enough speech takes half of its
            stretches from each, and the halves are embedded too
            (:attr:`ClusterVoiceprints.parts`), at no extra cost.
    """
    K = cents.shape[0]
    lengths = np.array([loc[3] for loc in locs], dtype=np.float64) / SAMPLE_RATE
    part_of_row = np.full(labels.shape[0], -1, dtype=np.int64)
    wanted: dict[int, list[tuple[int, int, bool]]] = {}  # chunk -> [(row, run, clean?)]
    for k in range(K):
        members = np.flatnonzero(labels == k)
        if not members.size:
            continue
        halves = two_parts(x[members], weight[members]) if weight is not None else None
        if halves is None:
            chosen = members[pick_typical(x[members], cents[k], clean[members], lengths[members])]
        else:
            part_of_row[members] = halves
            chosen_parts = []
            for g in (0, 1):
                m = members[halves == g]
                c = x[m].sum(axis=0)
                c = c / max(float(np.linalg.norm(c)), 1e-12)
                chosen_parts.append(m[pick_typical(
                    x[m], c, clean[m], lengths[m], seconds=ID_SECONDS_PER_CLUSTER / 2,
                    most=ID_UNITS_PER_CLUSTER // 2,
                )])
            chosen = np.concatenate(chosen_parts)
        for i in chosen:
            ci, run, cl, _n = locs[int(i)]
            wanted.setdefault(ci, []).append((int(i), run, cl))
    max_emb = int(round(MAX_EMBED_SECONDS * SAMPLE_RATE))
    pieces: list[tuple[int, np.ndarray]] = []
    last = max(wanted, default=-1)
    blocks = open_blocks()
    chunks = iter_chunks(blocks, step)
    try:
        for ci, ch in enumerate(chunks):
            if ci > last:
                break
            for i, run, cl in wanted.get(ci, ()):
                pieces.append((i, speech_samples(ch.samples, run_frames(run_maps[ci], run, cl), max_emb)))
            if ci % 100 == 0:
                check()
    finally:
        chunks.close()
        close = getattr(blocks, "close", None)
        if close is not None:
            close()
    dim = int(getattr(encoder, "dim", 0) or 0)
    sums: dict[int, np.ndarray] = {}
    part_sums: dict[tuple[int, int], np.ndarray] = {}
    pieces.sort(key=lambda p: p[1].shape[0])
    for b in range(0, len(pieces), ID_BATCH):
        take = [p for p in pieces[b : b + ID_BATCH] if p[1].shape[0] >= MIN_WINDOW_SAMPLES]
        if not take:
            continue
        lens = np.array([p[1].shape[0] for p in take], dtype=np.int64)
        batch = np.zeros((len(take), int(lens.max())), dtype=np.float32)
        for r, (_i, smp) in enumerate(take):
            batch[r, : smp.shape[0]] = smp
        e = np.asarray(work(encoder.embed, batch, lengths=lens), dtype=np.float64)
        dim = dim or e.shape[1]
        for (i, smp), v in zip(take, e, strict=True):
            k = int(labels[i])
            sums[k] = sums.get(k, np.zeros(e.shape[1])) + v * smp.shape[0]
            g = int(part_of_row[i])
            if g >= 0:
                part_sums[k, g] = part_sums.get((k, g), np.zeros(e.shape[1])) + v * smp.shape[0]
    out = np.zeros((K, max(dim, 1)), dtype=np.float32)
    for k, v in sums.items():
        out[k] = v
    parts = None
    if weight is not None:
        parts = np.zeros((K, 2, max(dim, 1)), dtype=np.float32)
        for (k, g), v in part_sums.items():
            parts[k, g] = v
        parts = readonly(normalize_rows(parts))
    return ClusterVoiceprints(readonly(normalize_rows(out)), parts, readonly(part_of_row))
