"""Diarization with identification: who speaks when, labelled against voiceprints.

The pipeline has the shape of pyannote's speaker-diarization-3.x:

1. **Segmentation** (:mod:`engine.segmentation`): 10 s chunks every
   :data:`CHUNK_STEP_SECONDS` give up to three *local* speakers per chunk, with
   overlap, at 16.875 ms frames. The "no speech" class is the voice activity.
2. **Embedding**: each local speaker's activity in a chunk is cut into runs at
   pauses of :data:`SPLIT_GAP_SECONDS` (the model's speaker identity across a long
   pause is its weakest decision). A run is linked to the previous chunk's run it
   co-activates with on the frames both chunks see (pyannote 2.x "stitching"), so
   a *unit* follows one voice across chunks. Each unit gets ONE embedding, from the
   chunk where it has the most non-overlapped speech (gathered, at most
   :data:`MAX_EMBED_SECONDS`; overlapped speech only when there is too little
   clean speech); units reaching :data:`UNIT_MAX_SECONDS` start a new one. The
   embeddings come from the *diarization encoder*, CAM++ (:mod:`engine.campp`),
   which costs about a quarter of ECAPA per second of audio: a conversation has
   ~750 pause-delimited units per hour, and embedding all of them with ECAPA would
   alone take over 100 s per hour on two cores. Chunks whose peak is under
   -60 dBFS are not segmented.
3. **Clustering** of the recording's own speakers: average-linkage agglomerative
   clustering on cosine distance (threshold: the diarization encoder's
   ``cluster_distance``, else :data:`CLUSTER_DISTANCE`), or cut at a given number
   of clusters; small clusters are folded into the nearest large one (as
   pyannote's ``min_cluster_size``). Long recordings with many embeddings are
   clustered in two stages (time-ordered groups, then their centroids), so memory
   stays bounded. Units with too little clean speech to define clusters (under
   :data:`MIN_CLUSTER_SPEECH`) join the nearest cluster. Then each cluster's most
   typical units (closest to its centroid, at most :data:`ID_SECONDS_PER_CLUSTER`)
   are read again and embedded with the voiceprint model (ECAPA): that embedding
   is what is compared with the library, so voiceprints, calibration and scores
   are the voiceprint model's.
4. **Reconstruction**: chunk activations are mapped to global clusters and
   overlap-added on the global frame grid; the number of speakers per frame is
   the rounded mean of the local counts and the most active clusters win
   (pyannote's ``reconstruct``); runs become turns (gaps under
   :data:`MIN_GAP_SECONDS` filled, turns under :data:`MIN_TURN_SECONDS` dropped).
5. **Identification**: the clusters' voiceprint-model embeddings are scored against
   the voiceprints (calibrated 0-100 score, :mod:`engine.calibration`), the Hungarian algorithm
   gives each voiceprint at most one cluster, and a cluster whose score is under
   the threshold stays unknown (``UNKNOWN_00``, ``UNKNOWN_01`` ... in order of
   first appearance).

Audio is consumed in blocks (a path is streamed with
:func:`engine.audio.iter_blocks`, twice: the second pass stops at the last chunk
that holds a unit chosen for identification), so peak memory does not grow with
duration except for the per-chunk results (589 x 3 run-map bytes per chunk, an embedding
per unit) and the confidence track (4 bytes per ``resolution``): about 7 MB per
hour of audio in all.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import os
import time
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.encoder import MIN_WINDOW_SAMPLES
from engine.errors import ModelMismatch, ModelUnavailable, ValidationError
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.segmentation import (
    CHUNK_FRAMES,
    CHUNK_SAMPLES,
    FRAME_CENTER_S,
    FRAME_SIZE,
    FRAME_STEP,
    FRAME_STEP_S,
    NUM_LOCAL_SPEAKERS,
    Segmenter,
    default_segmenter,
    powerset_to_speakers,
)
from engine.segments import ScoreTrack, Turn, readonly, unknown_label

SAMPLE_RATE = 16000
CHUNK_STEP_SECONDS = 7.5
"""Step between 10 s segmentation chunks. pyannote uses 1 s; here each frame is seen by
one or two chunks, and consecutive chunks share 2.5 s (148 frames) on which their local
speakers are linked. Against 5 s it saves a third of the segmentation time (about 8 s
per hour of audio) with the same DER on the dev set (bench/bench_accuracy.py)."""
MAX_EMBED_SECONDS = 3.0
"""Clean speech used per (chunk, local speaker) embedding, seconds."""
MIN_EMBED_SECONDS = 0.5
"""Less clean speech than this: embed the speaker's overlapped speech instead."""
MIN_ACTIVE_SECONDS = 0.25
"""Local speakers active for less than this in a chunk are ignored."""
MIN_CLUSTER_SPEECH = 1.0
"""Only embeddings of at least this much clean speech define the clusters."""
CLUSTER_DISTANCE = 0.60
"""Average-linkage cosine distance at which clusters stop merging (ECAPA; tuned on
the pyannote sample and the synthetic conversations of tests/test_identify.py)."""
MIN_CLUSTER_SECONDS = 2.0
"""A cluster with less clean embedded speech than this is folded into the nearest
larger one (unless no larger one exists)."""
LINK_MIN_SECONDS = 0.3
"""Co-activity (seconds, on the frames two consecutive chunks share) needed to link
their local speakers into one unit; also at least half of either one's activity."""
SPLIT_GAP_SECONDS = 0.5
"""A local speaker's activity is cut into separate runs (units) at pauses this long."""
UNIT_MAX_SECONDS = 30.0
"""A unit that reaches this much speech is closed and a new one (with its own
embedding) continues it, so a linking error cannot spread over a whole hour."""
SILENCE_PEAK = 10 ** (-60 / 20)
"""Chunks whose peak stays under -60 dBFS are not segmented (no speech)."""
ID_SECONDS_PER_CLUSTER = 18.0
"""Audio per cluster embedded with the voiceprint model when clustering used another one."""
ID_UNITS_PER_CLUSTER = 8
"""At most this many stretches per cluster make its voiceprint-model embedding."""
MIN_GAP_SECONDS = 0.1
MIN_TURN_SECONDS = 0.1
MAX_MATCHES = 5
MAX_CURVE_ROWS = 32
"""With more voiceprints than this, ``speaker_curves`` only has rows for the
voiceprints that matched a cluster."""
MAX_CURVE_VALUES = 20_000_000
"""Above this many curve values (rows x frames) the curve step grows (a multiple
of ``resolution``) so the curves stay under ~80 MB."""
_DIRECT_AHC_MAX = 2500
_BATCH_TARGET_S = 1.5
"""Wall time per model call: ECAPA costs ~1.5-2x less per second of audio in batches
of several windows than one by one. Calls run on a worker thread while the caller
polls the cancel token every :data:`_CANCEL_POLL_S`, so cancelling still answers at
once (the batch in flight finishes in the background and is dropped)."""
_CANCEL_POLL_S = 0.05
_ID_BATCH = 4
"""Stretches (<= 3 s each) per voiceprint-model call in the identification pass: ECAPA
needs ~17 MB of activations per second of audio in a batch, so 12 s stay ~0.2 GB."""
_RECON_BLOCK_FRAMES = 20_000
_READ_BLOCK_SECONDS = 60.0  # file blocks streamed by iter_blocks
_IGNORED = 255  # run map value: active, but too short to be a unit


def _runs(on: np.ndarray, gap: int) -> list[tuple[int, int]]:
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


@dataclass(frozen=True)
class ClusterInfo:
    """One recording-local speaker cluster.

    Attributes:
        label: ``SPEAKER_nn`` (order of first appearance).
        speaker: the enrolled speaker id it was identified as, or ``UNKNOWN_nn``.
        score: 0-100 score of the centroid against that speaker's voiceprint; for an
            unknown cluster its best score against any voiceprint (0 with none).
        duration: seconds of speech in its turns.
        centroid: read-only float32 ``(dim,)`` unit-norm mean embedding (can be
            enrolled as a voiceprint of the same model).
        matches: up to :data:`MAX_MATCHES` ``(voiceprint id, 0-100 score)`` of the
            closest voiceprints, best first (pyannoteAI's per-voiceprint confidence).
    """

    label: str
    speaker: str
    score: float
    duration: float
    centroid: np.ndarray
    matches: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class IdentificationResult:
    """The output of :func:`identify`.

    Attributes:
        turns: speaker turns sorted by start time.
        confidence: per-frame 0-100 confidence of the active speaker: the score of
            its cluster against the voiceprint the cluster was labelled with (for an
            unknown cluster, the voiceprint closest to it), capped by how well the
            stretch of speech belongs to its cluster (CAM++ membership score; with a
            single model, the stretch's own embedding is scored instead); the highest
            of several overlapping speakers, 0 where nobody speaks. Frame ``i`` is the
            interval ``[i*step, (i+1)*step)`` sampled at its centre:
            ``start = step / 2``. None when ``confidence=False``.
        speaker_curves: ``(rows, frames)`` 0-100 similarity over time of whoever
            speaks to each voiceprint in ``speaker_ids`` (0 in non-speech); None when
            ``confidence=False`` or there are no voiceprints.
        speaker_ids: the voiceprint id of each row of ``speaker_curves``.
        clusters: one :class:`ClusterInfo` per cluster, in label order.
        duration: audio duration, seconds.
        model_id: the speaker encoder's model id.
        num_speakers: the number of clusters found.
    """

    turns: tuple[Turn, ...]
    confidence: ScoreTrack | None
    speaker_curves: ScoreTrack | None
    speaker_ids: tuple[str, ...]
    clusters: tuple[ClusterInfo, ...]
    duration: float
    model_id: str
    num_speakers: int

    def speakers(self) -> tuple[str, ...]:
        """Distinct speaker labels in order of first appearance."""
        return tuple(dict.fromkeys(t.speaker for t in self.turns))


# --------------------------------------------------------------------------- helpers


def _calibration() -> tuple[Any, float]:
    """``(cosine_to_score, DEFAULT_THRESHOLD)`` from :mod:`engine.calibration`."""
    from engine.calibration import DEFAULT_THRESHOLD, cosine_to_score

    return cosine_to_score, float(DEFAULT_THRESHOLD)


def _to_scores(fn: Any, cos: np.ndarray) -> np.ndarray:
    return np.asarray(fn(np.asarray(cos, dtype=np.float32)), dtype=np.float32).reshape(cos.shape)


class _Worker:
    """Runs model calls on one background thread, polling ``cancel`` while waiting."""

    def __init__(self, cancel: CancelToken | None) -> None:
        self._cancel = cancel
        self._pool = (
            concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="identify")
            if cancel is not None
            else None
        )

    def __call__(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._pool is None or self._cancel is None:
            return fn(*args, **kwargs)
        self._cancel.check()
        fut = self._pool.submit(fn, *args, **kwargs)
        while True:
            try:
                return fut.result(timeout=_CANCEL_POLL_S)
            except concurrent.futures.TimeoutError:
                self._cancel.check()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)


class _Pacer:
    """Picks batch sizes so one model call takes about ``target`` seconds."""

    def __init__(self, target: float, first: int, most: int) -> None:
        self.target = target
        self.size = first
        self.most = most

    def timed(self, units: float, seconds: float) -> None:
        if units > 0 and seconds > 0:
            per = seconds / units
            self.size = int(min(self.most, max(1, self.target / per)))


def _check_count(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValidationError(f"{name} must be a positive integer or None.", location=name)
    return int(value)


def _source_blocks(
    audio: Any,
) -> tuple[Iterator[np.ndarray], int, float]:
    """``(blocks of mono 16 kHz float32, total samples or -1, duration)`` for any input."""
    from engine.audio import Audio, FileChannel, iter_blocks, output_length, probe

    if isinstance(audio, FileChannel):  # one channel of a file (engine.identify_channels)
        info = probe(audio.path)
        n = output_length(info.frames, info.original_rate) if info.frames > 0 else -1
        return audio.blocks(_READ_BLOCK_SECONDS), n, n / SAMPLE_RATE if n > 0 else float("nan")
    if isinstance(audio, Audio):
        x = audio.mono()

        def arr() -> Iterator[np.ndarray]:
            yield x

        return arr(), int(x.shape[0]), x.shape[0] / SAMPLE_RATE
    if isinstance(audio, (str, os.PathLike)):
        path = Path(audio)
        info = probe(path)
        total = (
            int(math.ceil(info.frames * SAMPLE_RATE / info.original_rate))
            if info.frames > 0
            else -1
        )

        def blocks() -> Iterator[np.ndarray]:
            for _, block in iter_blocks(path, block_seconds=_READ_BLOCK_SECONDS):
                yield block

        return blocks(), total, total / SAMPLE_RATE if total > 0 else float("nan")
    raise ValidationError("audio must be an engine.audio.Audio or a file path.", location="audio")


def _chunk_starts(total: int, step: int) -> int:
    """Number of chunks for ``total`` samples at ``step`` (the last reaches the end)."""
    if total <= CHUNK_SAMPLES:
        return 1
    return int(math.ceil((total - CHUNK_SAMPLES) / step)) + 1


def _iter_chunks(
    blocks: Iterator[np.ndarray], step: int
) -> Generator[tuple[int, np.ndarray, bool, int], None, None]:
    """Yield ``(start_sample, chunk (160000,) zero-padded, is_last, valid_samples)``.

    Only about one chunk plus one block of samples is held at a time.
    """
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0  # absolute sample index of buf[0]
    next_start = 0
    exhausted = False
    it = iter(blocks)
    while True:
        while not exhausted and buf_start + buf.shape[0] < next_start + CHUNK_SAMPLES:
            try:
                b = np.asarray(next(it), dtype=np.float32).reshape(-1)
            except StopIteration:
                exhausted = True
                break
            buf = np.concatenate([buf, b]) if buf.shape[0] else b
        end = buf_start + buf.shape[0]
        if next_start > 0 and next_start >= end:
            return
        lo = next_start - buf_start
        piece = buf[lo : lo + CHUNK_SAMPLES]
        valid = int(piece.shape[0])
        is_last = exhausted and next_start + CHUNK_SAMPLES >= end
        if valid < CHUNK_SAMPLES:
            piece = np.pad(piece, (0, CHUNK_SAMPLES - valid))
        yield next_start, piece, is_last, valid
        if is_last:
            return
        next_start += step
        drop = next_start - buf_start
        if drop > 0:
            buf = buf[drop:]
            buf_start = next_start


def _frame_mask_to_samples(mask: np.ndarray) -> np.ndarray:
    """Samples of a chunk covered by the frames in ``mask`` (each frame owns the
    ``FRAME_STEP`` samples around its centre)."""
    sm = np.zeros(CHUNK_SAMPLES, dtype=bool)
    first = int(round(FRAME_CENTER_S * SAMPLE_RATE)) - FRAME_STEP // 2
    idx = np.flatnonzero(mask)
    if idx.size:
        starts = first + idx * FRAME_STEP
        sm_idx = (starts[:, None] + np.arange(FRAME_STEP)[None, :]).reshape(-1)
        sm_idx = sm_idx[(sm_idx >= 0) & (sm_idx < CHUNK_SAMPLES)]
        sm[sm_idx] = True
    return sm


def _speech_samples(chunk: np.ndarray, frames: np.ndarray, most: int) -> np.ndarray:
    """The samples of ``chunk`` under the frame mask ``frames``, at most ``most`` of them
    (the middle ones): float32 ``(n,)``, a copy."""
    samples = chunk[_frame_mask_to_samples(frames)]
    if samples.shape[0] > most:
        mid = (samples.shape[0] - most) // 2
        samples = samples[mid : mid + most]
    return np.array(samples, dtype=np.float32)


def _run_frames(run_map: np.ndarray, run: int, clean: bool) -> np.ndarray:
    """Frame mask of run ``run`` in a chunk's run map (only its single-speaker frames
    when ``clean``)."""
    mask = (run_map == run + 1).any(axis=1)
    if clean:
        mask &= (run_map > 0).sum(axis=1) == 1
    return mask


def _diarizer(encoder: Any) -> Any:
    """The bundled CAM++ diarization encoder, or ``encoder`` when it is not installed."""
    try:
        from engine.campp import default_diarization_encoder

        return default_diarization_encoder()
    except ModelUnavailable as exc:
        logging.getLogger(__name__).warning(
            "CAM++ unavailable (%s); diarizing with the voiceprint model (slower).", exc.message
        )
        return encoder


def _pick_typical(
    x: np.ndarray, centroid: np.ndarray, clean: np.ndarray, length: np.ndarray
) -> np.ndarray:
    """Indices of the members that best represent a cluster, for its voiceprint-model
    embedding: those with at least :data:`MIN_CLUSTER_SPEECH` of clean speech, closest
    to the centroid first, up to :data:`ID_SECONDS_PER_CLUSTER` of audio.

    Args:
        x: ``(n, d)`` unit-norm member embeddings; centroid: ``(d,)``.
        clean: ``(n,)`` clean seconds of each member's embedded speech.
        length: ``(n,)`` seconds of each member's embedded audio.
    """
    good = clean >= MIN_CLUSTER_SPEECH
    cos = x @ centroid
    order = np.lexsort((-cos, ~good))  # good members first, then by closeness
    out: list[int] = []
    total = 0.0
    for i in order.tolist():
        if out and (total + length[i] > ID_SECONDS_PER_CLUSTER or len(out) >= ID_UNITS_PER_CLUSTER):
            break
        out.append(i)
        total += float(length[i])
    return np.array(out, dtype=np.int64)


# --------------------------------------------------------------------------- clustering


def _ahc_labels(x: np.ndarray, threshold: float) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    if x.shape[0] == 1:
        return np.zeros(1, dtype=np.int64)
    z = linkage(x, method="average", metric="cosine")
    return fcluster(z, t=threshold, criterion="distance").astype(np.int64) - 1


def _normalize(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def _centroids(x: np.ndarray, w: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    c = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(c, labels, x * w[:, None])
    return _normalize(c)


def _cluster(
    x: np.ndarray,
    w: np.ndarray,
    *,
    num: int | None,
    lo: int | None,
    hi: int | None,
    distance: float = CLUSTER_DISTANCE,
) -> np.ndarray:
    """Cluster unit-norm embeddings ``x (n, d)`` weighted by seconds ``w (n,)``.

    ``distance`` is the average-linkage cosine distance at which clusters stop merging.
    Returns int labels ``(n,)`` in ``0..k-1``.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    n = x.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    # Stage 1 (long recordings only): over-cluster time-ordered groups, keep centroids.
    if n > _DIRECT_AHC_MAX:
        groups = int(math.ceil(n / _DIRECT_AHC_MAX))
        member = np.empty(n, dtype=np.int64)
        cents: list[np.ndarray] = []
        weights: list[float] = []
        for g in range(groups):
            sl = slice(g * n // groups, (g + 1) * n // groups)
            lab = _ahc_labels(x[sl], distance * 0.5)
            k = int(lab.max()) + 1
            member[sl] = lab + len(cents)
            cw = np.bincount(lab, weights=w[sl], minlength=k)
            cents.extend(_centroids(x[sl], w[sl], lab, k))
            weights.extend(cw.tolist())
        top = _cluster(
            np.stack(cents), np.asarray(weights), num=num, lo=lo, hi=hi, distance=distance
        )
        return top[member]

    z = linkage(x, method="average", metric="cosine")
    labels = fcluster(z, t=distance, criterion="distance") - 1
    labels = _fold_small(x, w, labels, MIN_CLUSTER_SECONDS)
    k_auto = int(labels.max()) + 1
    want = num
    if want is None and lo is not None and k_auto < lo:
        want = lo
    if want is None and hi is not None and k_auto > hi:
        want = hi
    if want is None or want == k_auto:
        return labels
    want = min(want, n)
    # Cut the dendrogram at the smallest size that yields `want` large clusters.
    for m in range(want, n + 1):
        lab = fcluster(z, t=m, criterion="maxclust") - 1
        seconds = np.bincount(lab, weights=w)
        order = np.argsort(-seconds)
        large = order[:want]
        if m == n or (seconds[large] >= MIN_CLUSTER_SECONDS).all() or m > want + 20:
            return _keep(x, w, lab, large)
    return labels  # pragma: no cover - the loop always returns


def _keep(x: np.ndarray, w: np.ndarray, labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Keep clusters ``keep``; move every other member to the nearest kept centroid."""
    k = int(labels.max()) + 1
    cents = _centroids(x, w, labels, k)[keep]
    remap = np.full(k, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    out = remap[labels]
    lost = out < 0
    if lost.any():
        out[lost] = np.argmax(x[lost] @ cents.T, axis=1)
    return out


def _fold_small(x: np.ndarray, w: np.ndarray, labels: np.ndarray, min_seconds: float) -> np.ndarray:
    k = int(labels.max()) + 1
    seconds = np.bincount(labels, weights=w, minlength=k)
    large = np.flatnonzero(seconds >= min_seconds)
    if large.size == 0:
        large = np.array([int(np.argmax(seconds))])
    if large.size == k:
        return labels
    return _keep(x, w, labels, large)


# --------------------------------------------------------------------------- identify


def identify(
    audio: Any,
    voiceprints: Mapping[str, Any],
    *,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    threshold: float | None = None,
    confidence: bool = True,
    resolution: float = 0.02,
    encoder: Any = None,
    diarization_encoder: Any = None,
    segmenter: Segmenter | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> IdentificationResult:
    """Diarize ``audio`` and label its speakers with ``voiceprints``.

    Args:
        audio: an :class:`engine.audio.Audio` (its rows are mixed to mono) or a path
            to an audio file (streamed in blocks; up to 24 h / 1 GiB).
        voiceprints: enrolled speaker id -> :class:`engine.voiceprint.Voiceprint`;
            may be empty (pure diarization: every speaker is ``UNKNOWN_nn``).
        num_speakers: exact number of speakers, or None to find it.
        min_speakers, max_speakers: bounds on the number found.
        threshold: 0-100 score a cluster needs to be labelled with a voiceprint
            (default :data:`engine.calibration.DEFAULT_THRESHOLD`).
        confidence: compute the confidence track and speaker curves.
        resolution: confidence frame step, seconds (0.02 by default, as pyannoteAI).
        encoder: the voiceprint model, a :class:`engine.encoder.SpeakerEncoder`
            (default :func:`engine.encoder.default_encoder`, ECAPA).
        diarization_encoder: the model that embeds every stretch of speech for
            clustering (default: the bundled CAM++ of :mod:`engine.campp`, or
            ``encoder`` when CAM++ is not installed). When it differs from
            ``encoder``, only each cluster's most typical speech (at most
            :data:`ID_SECONDS_PER_CLUSTER`) is embedded with ``encoder`` for scoring.
        segmenter: the segmentation model (default: the packaged one).
        progress, cancel: job hooks; progress is monotonic 0 -> 1 and ``cancel`` is
            polled every 50 ms while a model batch runs (on a worker thread), so a
            cancel raises :class:`~engine.errors.Cancelled` at once.

    Returns:
        :class:`IdentificationResult`; audio without speech gives no turns.

    Raises:
        ValidationError: bad parameters; ModelMismatch: voiceprints from another
        model than ``encoder``; MediaUnreadable / SizeLimitExceeded: bad audio;
        :class:`engine.errors.Cancelled` when cancelled (nothing is returned or written).
    """
    num = _check_count("num_speakers", num_speakers)
    lo = _check_count("min_speakers", min_speakers)
    hi = _check_count("max_speakers", max_speakers)
    if lo is not None and hi is not None and lo > hi:
        raise ValidationError("min_speakers is larger than max_speakers.", location="min_speakers")
    if num is not None and ((lo is not None and num < lo) or (hi is not None and num > hi)):
        raise ValidationError(
            "num_speakers is outside [min_speakers, max_speakers].", location="num_speakers"
        )
    if not (isinstance(resolution, (int, float)) and 0.001 <= float(resolution) <= 10.0):
        raise ValidationError(
            "resolution must be between 0.001 and 10 seconds.", location="resolution"
        )
    resolution = float(resolution)
    to_score, default_threshold = _calibration()
    if threshold is None:
        threshold = default_threshold
    if not (isinstance(threshold, (int, float)) and 0.0 <= float(threshold) <= 100.0):
        raise ValidationError("threshold must be a score between 0 and 100.", location="threshold")
    if not isinstance(voiceprints, Mapping):
        raise ValidationError(
            "voiceprints must be a mapping of id -> Voiceprint.", location="voiceprints"
        )

    # first use in a process loads the models (the very first run also converts CAM++
    # to ONNX, ~10 s): say so rather than sit at "Segmenting"
    progress(0.0, "Loading models")
    if encoder is None:
        from engine.encoder import default_encoder

        encoder = default_encoder()
    model_id = str(getattr(encoder, "model_id", ""))
    dia = diarization_encoder if diarization_encoder is not None else _diarizer(encoder)
    separate = dia is not encoder and str(getattr(dia, "model_id", "")) != model_id
    distance = float(getattr(dia, "cluster_distance", CLUSTER_DISTANCE))
    member_fn = getattr(dia, "membership_score", None)  # cosine to centroid -> 0-100
    ids = [str(k) for k in voiceprints]
    vecs: list[np.ndarray] = []
    for key, vp in voiceprints.items():
        vec = getattr(vp, "vector", None)
        if vec is None:
            raise ValidationError(
                f"voiceprints[{key!r}] is not a Voiceprint.", location=f"voiceprints[{key!r}]"
            )
        if getattr(vp, "model_id", model_id) != model_id:
            raise ModelMismatch(
                f"Voiceprint {key!r} was made with model {vp.model_id!r}, but identification "
                f"uses {model_id!r}: re-enroll this speaker with the current model.",
                location=f"voiceprints[{key!r}]",
            )
        vecs.append(np.asarray(vec, dtype=np.float32).reshape(-1))
    dim = int(getattr(encoder, "dim", 0) or (vecs[0].shape[0] if vecs else 0))
    if vecs and any(v.shape[0] != vecs[0].shape[0] for v in vecs):
        raise ValidationError("voiceprints have different dimensions.", location="voiceprints")
    V = _normalize(np.stack(vecs)) if vecs else np.zeros((0, max(dim, 1)), dtype=np.float32)

    segmenter = segmenter or default_segmenter()
    blocks, total, duration = _source_blocks(audio)
    step = int(round(CHUNK_STEP_SECONDS * SAMPLE_RATE))
    n_chunks_est = _chunk_starts(total, step) if total > 0 else 0
    progress(0.0, "Segmenting")

    # ---- phase 1: segmentation + embeddings, streamed ---------------------------------
    # A "unit" is one speaker's stretch followed across consecutive chunks: a local
    # speaker is linked to the previous chunk's local speaker it co-activates with on
    # the frames both chunks see (as pyannote 2.x stitching). Each unit gets ONE
    # embedding (its chunk with the most clean speech, capped), so a voice is
    # embedded once per stretch rather than once per chunk.
    acts: list[np.ndarray] = []  # per chunk (589, 3) uint8 run map (0 none, j run, 255 ignored)
    unit_rows: list[np.ndarray] = []  # per chunk (runs,) int64 unit id of each run
    unit_speech: list[float] = []  # seconds of activity (weights for clustering)
    unit_clean: dict[int, float] = {}  # clean seconds of the embedded speech
    unit_vec: dict[int, np.ndarray] = {}
    # unit -> (clean frames, clean?, samples, chunk, run): the best speech seen so far
    cand: dict[int, tuple[int, bool, np.ndarray, int, int]] = {}
    # unit -> (chunk, run, clean?, samples) of the speech it was embedded from
    unit_loc: dict[int, tuple[int, int, bool, int]] = {}
    pend: list[tuple[int, float, np.ndarray]] = []  # (unit, clean s, samples)
    prev: dict[str, Any] = {"masks": None, "units": []}
    # batch caps bound the transient activations (ECAPA: ~17 MB per second embedded)
    seg_pace = _Pacer(_BATCH_TARGET_S, 4, 8)
    batch_s = float(getattr(dia, "batch_seconds", 16.0))
    emb_pace = _Pacer(_BATCH_TARGET_S, int(12 * SAMPLE_RATE), int(batch_s * SAMPLE_RATE))
    min_active = int(round(MIN_ACTIVE_SECONDS / FRAME_STEP_S))
    min_clean = int(round(MIN_EMBED_SECONDS / FRAME_STEP_S))
    max_emb = int(round(MAX_EMBED_SECONDS * SAMPLE_RATE))
    max_emb_frames = int(round(MAX_EMBED_SECONDS / FRAME_STEP_S))
    link_min = int(round(LINK_MIN_SECONDS / FRAME_STEP_S))
    split_gap = int(round(SPLIT_GAP_SECONDS / FRAME_STEP_S))

    def check() -> None:
        if cancel is not None:
            cancel.check()

    def flush(force: bool) -> None:
        # embed pending windows, similar lengths together (little padding)
        while pend and (force or sum(p[2].shape[0] for p in pend) >= emb_pace.size):
            pend.sort(key=lambda p: p[2].shape[0])
            take: list[tuple[int, float, np.ndarray]] = []
            longest = 0
            while pend and (
                not take or (len(take) + 1) * max(longest, pend[0][2].shape[0]) <= emb_pace.size
            ):
                p = pend.pop(0)
                longest = max(longest, p[2].shape[0])
                take.append(p)
            check()
            lens = np.array([p[2].shape[0] for p in take], dtype=np.int64)
            batch = np.zeros((len(take), int(lens.max())), dtype=np.float32)
            for i, p in enumerate(take):
                batch[i, : p[2].shape[0]] = p[2]
            t0 = time.perf_counter()
            e = np.asarray(work(dia.embed, batch, lengths=lens), dtype=np.float32)
            emb_pace.timed(float(batch.size), time.perf_counter() - t0)
            for p, v in zip(take, e, strict=True):
                unit_vec[p[0]] = v
                unit_clean[p[0]] = p[1]

    def close(u: int) -> None:
        c = cand.pop(u, None)
        if c is not None and c[2].shape[0] >= MIN_EMBED_SECONDS * SAMPLE_RATE * 0.5:
            pend.append((u, c[0] * FRAME_STEP_S if c[1] else 0.0, c[2]))
            unit_loc[u] = (c[3], c[4], c[1], c[2].shape[0])

    def add_chunk(chunk: np.ndarray, act: np.ndarray) -> None:
        ci = len(acts)
        single = act.sum(axis=1) == 1
        # local speakers cut into runs at long pauses: the model's speaker identity
        # across a long silence is its weakest decision
        runs: list[tuple[int, np.ndarray]] = []  # (slot, frame mask)
        run_map = np.where(act > 0, _IGNORED, 0).astype(np.uint8)
        for s in range(NUM_LOCAL_SPEAKERS):
            for f0, f1 in _runs(act[:, s], split_gap):
                mask = np.zeros(CHUNK_FRAMES, dtype=bool)
                mask[f0:f1] = act[f0:f1, s] > 0
                if mask.sum() >= min_active and len(runs) < _IGNORED - 1:
                    runs.append((s, mask))
                    run_map[mask, s] = len(runs)
        acts.append(run_map)
        prev_masks: np.ndarray | None = prev["masks"]
        units_prev: list[int] = prev["units"]
        links: dict[int, int] = {}
        if prev_masks is not None and runs and units_prev:
            off = int(round(ci * step / FRAME_STEP)) - int(round((ci - 1) * step / FRAME_STEP))
            n_ov = CHUNK_FRAMES - off
            if n_ov > 0:
                pa = prev_masks[off : off + n_ov].astype(np.float32)
                ca = np.stack([m[:n_ov] for _, m in runs], axis=1).astype(np.float32)
                m = pa.T @ ca  # (previous runs, runs) co-active frames
                rows, cols = linear_sum_assignment(-m)
                for rp, rc in zip(rows, cols, strict=True):
                    need = max(link_min, 0.5 * min(pa[:, rp].sum(), ca[:, rc].sum()))
                    if m[rp, rc] >= need:
                        links[int(rc)] = units_prev[rp]
        units_now: list[int] = []
        for j, (_s, mask) in enumerate(runs):
            u = links.get(j, -1)
            if u >= 0 and (unit_speech[u] >= UNIT_MAX_SECONDS or u in units_now):
                u = -1  # long stretch: a new unit (and embedding) for robustness
            if u < 0:
                u = len(unit_speech)
                unit_speech.append(0.0)
            units_now.append(u)
            unit_speech[u] += float(mask.sum()) * FRAME_STEP_S
            clean = mask & single
            n_clean = int(clean.sum())
            old = cand.get(u)
            if old is None or (old[0] < max_emb_frames and n_clean > old[0]):
                use_clean = n_clean >= min_clean
                samples = _speech_samples(chunk, clean if use_clean else mask, max_emb)
                cand[u] = (n_clean, use_clean, samples, ci, j)
        for u in units_prev:
            if u not in units_now:
                close(u)
        prev["masks"] = np.stack([m for _, m in runs], axis=1) if runs else None
        prev["units"] = units_now
        unit_rows.append(np.array(units_now, dtype=np.int64))

    def handle(chunks: list[tuple[int, np.ndarray, bool, int]]) -> None:
        check()
        x = np.stack([c[1] for c in chunks])
        # near-digital silence holds no speaker: skip the model (long silent recordings)
        loud = np.abs(x).max(axis=1) >= SILENCE_PEAK
        a = np.zeros((len(chunks), CHUNK_FRAMES, NUM_LOCAL_SPEAKERS), dtype=np.uint8)
        if loud.any():
            t0 = time.perf_counter()
            logp = work(segmenter.run, x[loud])
            seg_pace.timed(int(loud.sum()), time.perf_counter() - t0)
            a[loud] = powerset_to_speakers(logp).astype(np.uint8)
        for (_start, chunk, _last, n_valid), act in zip(chunks, a, strict=True):
            valid = min(CHUNK_FRAMES, max(0, (n_valid - FRAME_SIZE) // FRAME_STEP + 1))
            act[valid:] = 0  # padding frames past the end of the audio
            add_chunk(chunk, act)
        flush(False)

    batch: list[tuple[int, np.ndarray, bool, int]] = []
    counted = _Counting(blocks)
    work = _Worker(cancel)
    try:
        for item in _iter_chunks(counted, step):
            batch.append(item)
            if len(batch) >= seg_pace.size or item[2]:
                handle(batch)
                batch = []
                if n_chunks_est:
                    progress(min(0.85, 0.85 * len(acts) / n_chunks_est), "Segmenting and embedding")
        if batch:
            handle(batch)
        for u in prev["units"]:
            close(u)
        flush(True)
    finally:
        work.close()
    total_samples = counted.total
    duration = total_samples / SAMPLE_RATE
    progress(0.86, "Clustering")
    check()

    # ---- phase 2: clustering of the units' embeddings --------------------------------------
    emb_units = np.array(sorted(unit_vec), dtype=np.int64)
    n_emb = int(emb_units.size)
    X = (
        _normalize(np.stack([unit_vec[int(u)] for u in emb_units]))
        if n_emb
        else np.zeros((0, max(dim, 1)), np.float32)
    )
    secs = np.array([unit_clean[int(u)] for u in emb_units], dtype=np.float64)
    weight = np.maximum(np.array([unit_speech[int(u)] for u in emb_units]), 0.1)
    if n_emb:
        good = secs >= MIN_CLUSTER_SPEECH
        if not good.any():
            good = np.ones(n_emb, dtype=bool)
        labels_good = _cluster(X[good], weight[good], num=num, lo=lo, hi=hi, distance=distance)
        K = int(labels_good.max()) + 1
        C = _centroids(X[good], weight[good], labels_good, K)
        labels = np.argmax(X @ C.T, axis=1)
        labels[good] = labels_good
        # A unit seen only in overlap (no clean speech) that resembles no cluster is
        # mostly the segmentation doubling one voice: it gets no cluster (its frames
        # do not vote), rather than the nearest one.
        if member_fn is not None:
            fit = np.asarray(member_fn(np.einsum("nd,nd->n", X, C[labels])), dtype=np.float32)
            labels[(secs <= 0.0) & ~good & (fit.reshape(-1) < 50.0)] = -1
        kept = labels >= 0
        C = _centroids(X[kept], weight[kept], labels[kept], K)
    else:
        K = 0
        labels = np.zeros(0, dtype=np.int64)
        C = np.zeros((0, X.shape[1]), dtype=np.float32)
    check()

    # ---- phase 2b: voiceprint-model embeddings of each cluster's most typical speech ----------
    C_dia = C
    if separate and K:
        progress(0.87, "Identifying")
        work = _Worker(cancel)
        try:
            C = _cluster_embeddings(
                audio, step, acts, [unit_loc[int(u)] for u in emb_units], X, labels, C, secs,
                encoder, work, check,
            )
        finally:
            work.close()
        check()

    # (chunk, local speaker) -> embedding row -> cluster
    n_chunks = len(acts)
    row_of_unit = np.full(len(unit_speech) + 1, -1, dtype=np.int64)
    row_of_unit[emb_units] = np.arange(n_emb)
    # per chunk: embedding row (-1: none) and cluster (-1: none) of each run
    emb_rows = [row_of_unit[u] if u.size else u for u in unit_rows]
    tables = [
        np.where(r >= 0, labels[np.maximum(r, 0)], -1) if n_emb else r * 0 - 1 for r in emb_rows
    ]

    # ---- phase 3: reconstruction (blockwise over global frames) ------------------------------
    progress(0.9, "Building turns")
    n_frames = max(0, (total_samples - FRAME_SIZE) // FRAME_STEP + 1) if total_samples else 0
    offsets = np.array([int(round(i * step / FRAME_STEP)) for i in range(n_chunks)], dtype=np.int64)
    # identification of clusters
    scores_c = _to_scores(to_score, C @ V.T) if (K and V.shape[0]) else np.zeros((K, 0), np.float32)
    assigned = np.full(K, -1, dtype=np.int64)
    if K and V.shape[0]:
        rows, cols = linear_sum_assignment(-scores_c)
        for r, c in zip(rows, cols, strict=True):
            if scores_c[r, c] >= float(threshold):
                assigned[r] = c
    ref = (
        np.where(assigned >= 0, assigned, np.argmax(scores_c, axis=1) if scores_c.shape[1] else -1)
        if K
        else np.zeros(0, dtype=np.int64)
    )
    # per local embedding: score against its cluster's reference voiceprint. With a
    # separate diarization model a stretch scores as its cluster does, capped by how well
    # it belongs to that cluster (a doubtful assignment is a doubtful label).
    member = np.full(n_emb, 100.0, dtype=np.float32)
    if separate and n_emb and member_fn is not None:
        member = np.asarray(
            member_fn(np.einsum("nd,nd->n", X, C_dia[labels])), dtype=np.float32
        ).reshape(n_emb)
    row_score = np.zeros(n_emb + 1, dtype=np.float32)  # last entry: "no embedding"
    if n_emb and V.shape[0]:
        row_score[:n_emb] = (
            np.minimum(scores_c[labels, ref[labels]], member)
            if separate
            else _to_scores(to_score, np.einsum("nd,nd->n", X, V[ref[labels]]))
        )
    # speaker curve rows
    if confidence and V.shape[0]:
        rows_idx = (
            np.arange(V.shape[0])
            if V.shape[0] <= MAX_CURVE_ROWS
            else np.unique(assigned[assigned >= 0])
        )
    else:
        rows_idx = np.zeros(0, dtype=np.int64)
    row_curve = np.zeros((n_emb + 1, rows_idx.size), dtype=np.float32)
    if n_emb and rows_idx.size:
        row_curve[:n_emb] = (
            np.minimum(scores_c[labels][:, rows_idx], member[:, None])
            if separate
            else _to_scores(to_score, X @ V[rows_idx].T)
        )

    n_conf = int(math.ceil(duration / resolution - 1e-9)) if duration > 0 else 0
    conf_vals = np.zeros(n_conf, dtype=np.float32) if confidence else None
    curve_step = resolution
    if rows_idx.size:
        factor = max(1, int(math.ceil(rows_idx.size * n_conf / MAX_CURVE_VALUES)))
        curve_step = resolution * factor
    n_curve = (
        int(math.ceil(duration / curve_step - 1e-9)) if (duration > 0 and rows_idx.size) else 0
    )
    curve_vals = np.zeros((rows_idx.size, n_curve), dtype=np.float32) if rows_idx.size else None

    runs: list[list[tuple[int, int]]] = [[] for _ in range(K)]
    open_at = np.full(K, -1, dtype=np.int64)
    for f0 in range(0, n_frames, _RECON_BLOCK_FRAMES):
        check()
        f1 = min(n_frames, f0 + _RECON_BLOCK_FRAMES)
        nf = f1 - f0
        A = np.zeros((nf, max(K, 1)), dtype=np.float32)
        Q = np.zeros((nf, max(K, 1)), dtype=np.float32)
        cnt = np.zeros(nf, dtype=np.float32)
        cov = np.zeros(nf, dtype=np.float32)
        R = np.zeros((nf, rows_idx.size), dtype=np.float32)
        Rw = np.zeros(nf, dtype=np.float32)
        c_lo = int(np.searchsorted(offsets + CHUNK_FRAMES, f0, side="right"))
        c_hi = int(np.searchsorted(offsets, f1, side="left"))
        for c in range(c_lo, c_hi):
            o = int(offsets[c])
            a0, a1 = max(f0, o), min(f1, o + CHUNK_FRAMES)
            if a1 <= a0:
                continue
            rm = acts[c][a0 - o : a1 - o]
            sl = slice(a0 - f0, a1 - f0)
            cov[sl] += 1.0
            cnt[sl] += (rm > 0).sum(axis=1)
            for j, k in enumerate(tables[c]):
                if k < 0:
                    continue
                on = (rm == j + 1).any(axis=1).astype(np.float32)
                e = int(emb_rows[c][j])
                A[sl, k] += on
                Q[sl, k] += on * row_score[e]
                if rows_idx.size:
                    R[sl] += on[:, None] * row_curve[e][None, :]
                    Rw[sl] += on
        covered = np.maximum(cov, 1.0)
        count = np.rint(cnt / covered).astype(np.int64)
        count = np.minimum(count, K)
        active = np.zeros((nf, max(K, 1)), dtype=bool)
        if K:
            order = np.argsort(-A, axis=1, kind="stable")
            for j in range(min(K, NUM_LOCAL_SPEAKERS)):
                pick = (count > j) & (A[np.arange(nf), order[:, j]] > 0)
                active[np.flatnonzero(pick), order[pick, j]] = True
        # turns: runs [a, b) of global frames per cluster, carried across blocks
        for k in range(K):
            col = active[:, k].astype(np.int8)
            was_on = 1 if open_at[k] >= 0 else 0
            d = np.diff(np.concatenate([[was_on], col]))
            cur = int(open_at[k])
            for i in np.flatnonzero(d):
                if d[i] > 0:
                    cur = f0 + int(i)
                else:
                    runs[k].append((cur, f0 + int(i)))
                    cur = -1
            open_at[k] = cur
        # confidence and curves sampled on their grids
        if conf_vals is not None and K:
            with np.errstate(invalid="ignore", divide="ignore"):
                per = np.where(A > 0, Q / np.maximum(A, 1e-9), 0.0)
            frame_conf = np.where(active, per, 0.0).max(axis=1).astype(np.float32)
            _sample_grid(conf_vals, frame_conf, f0, f1, resolution, resolution / 2)
        if curve_vals is not None:
            speaking = np.asarray(active.any(axis=1), dtype=bool)
            fr = np.where(
                (Rw > 0)[:, None] & speaking[:, None], R / np.maximum(Rw, 1e-9)[:, None], 0.0
            )
            for r in range(rows_idx.size):
                _sample_grid(
                    curve_vals[r], fr[:, r].astype(np.float32), f0, f1, curve_step, curve_step / 2
                )
    for k in range(K):
        if open_at[k] >= 0:
            runs[k].append((int(open_at[k]), n_frames))

    # ---- turns -------------------------------------------------------------------------------
    progress(0.97, "Labelling")
    spans: list[list[tuple[float, float]]] = []
    for k in range(K):
        merged: list[list[float]] = []
        for a, b in runs[k]:
            t0 = max(0.0, a * FRAME_STEP_S + FRAME_CENTER_S - FRAME_STEP_S / 2)
            t1 = min(duration, (b - 1) * FRAME_STEP_S + FRAME_CENTER_S + FRAME_STEP_S / 2)
            if merged and t0 - merged[-1][1] < MIN_GAP_SECONDS:
                merged[-1][1] = max(merged[-1][1], t1)
            else:
                merged.append([t0, t1])
        spans.append([(a, b) for a, b in merged if b - a >= MIN_TURN_SECONDS])
    # labels by first appearance; drop clusters that produced no turn
    present = [k for k in range(K) if spans[k]]
    present.sort(key=lambda k: spans[k][0][0])
    cluster_label = {k: f"SPEAKER_{i:02d}" for i, k in enumerate(present)}
    speaker_of: dict[int, str] = {}
    n_unknown = 0
    for k in present:
        if assigned[k] >= 0:
            speaker_of[k] = ids[int(assigned[k])]
        else:
            speaker_of[k] = unknown_label(n_unknown)
            n_unknown += 1
    turns: list[Turn] = []
    infos: list[ClusterInfo] = []
    for k in present:
        score = float(scores_c[k, ref[k]]) if (scores_c.shape[1] and ref[k] >= 0) else 0.0
        for t_a, t_b in spans[k]:
            turns.append(
                Turn(round(t_a, 3), round(t_b, 3), speaker_of[k], round(score, 2), cluster_label[k])
            )
        infos.append(
            ClusterInfo(
                label=cluster_label[k],
                speaker=speaker_of[k],
                score=round(score, 2),
                duration=round(sum(b - a for a, b in spans[k]), 3),
                centroid=readonly(C[k].copy()),
                matches=tuple(
                    (ids[int(j)], round(float(scores_c[k, j]), 2))
                    for j in np.argsort(-scores_c[k])[:MAX_MATCHES]
                ),
            )
        )
    turns.sort(key=lambda t: (t.start, t.end, t.speaker))

    conf_track = (
        ScoreTrack(start=resolution / 2, step=resolution, values=readonly(conf_vals))
        if conf_vals is not None
        else None
    )
    curves = (
        ScoreTrack(start=curve_step / 2, step=curve_step, values=readonly(curve_vals))
        if curve_vals is not None
        else None
    )
    progress(1.0, "Done")
    return IdentificationResult(
        turns=tuple(turns),
        confidence=conf_track,
        speaker_curves=curves,
        speaker_ids=tuple(ids[int(r)] for r in rows_idx) if curves is not None else (),
        clusters=tuple(infos),
        duration=duration,
        model_id=model_id,
        num_speakers=len(present),
    )


def _cluster_embeddings(
    audio: Any,
    step: int,
    acts: list[np.ndarray],
    locs: list[tuple[int, int, bool, int]],
    x: np.ndarray,
    labels: np.ndarray,
    cents: np.ndarray,
    clean: np.ndarray,
    encoder: Any,
    work: _Worker,
    check: Any,
) -> np.ndarray:
    """Voiceprint-model embedding of each cluster, from its most typical stretches.

    The audio is read a second time (streamed again for a path) up to the last chunk
    needed; each chosen stretch is cut exactly as it was for the diarization encoder.

    Args:
        locs: per embedding row, ``(chunk, run, clean?, samples)`` of its speech.
        x: ``(n, d)`` diarization embeddings; labels: ``(n,)`` clusters; cents:
            ``(K, d)`` their centroids; clean: ``(n,)`` clean seconds per row.

    Returns:
        float32 ``(K, encoder.dim)`` unit-norm embeddings (a row of zeros for a
        cluster without usable speech).
    """
    K = cents.shape[0]
    lengths = np.array([loc[3] for loc in locs], dtype=np.float64) / SAMPLE_RATE
    wanted: dict[int, list[tuple[int, int, bool]]] = {}  # chunk -> [(row, run, clean?)]
    for k in range(K):
        members = np.flatnonzero(labels == k)
        if members.size:
            for i in members[_pick_typical(x[members], cents[k], clean[members], lengths[members])]:
                ci, run, cl, _n = locs[int(i)]
                wanted.setdefault(ci, []).append((int(i), run, cl))
    max_emb = int(round(MAX_EMBED_SECONDS * SAMPLE_RATE))
    pieces: list[tuple[int, np.ndarray]] = []
    last = max(wanted, default=-1)
    blocks, _, _ = _source_blocks(audio)
    chunks = _iter_chunks(blocks, step)
    try:
        for ci, (_start, chunk, _last, _valid) in enumerate(chunks):
            if ci > last:
                break
            for i, run, cl in wanted.get(ci, ()):
                pieces.append((i, _speech_samples(chunk, _run_frames(acts[ci], run, cl), max_emb)))
            if ci % 100 == 0:
                check()
    finally:
        chunks.close()
        close = getattr(blocks, "close", None)
        if close is not None:
            close()
    dim = int(getattr(encoder, "dim", 0) or 0)
    sums: dict[int, np.ndarray] = {}
    pieces.sort(key=lambda p: p[1].shape[0])
    for b in range(0, len(pieces), _ID_BATCH):
        take = [p for p in pieces[b : b + _ID_BATCH] if p[1].shape[0] >= MIN_WINDOW_SAMPLES]
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
    out = np.zeros((K, max(dim, 1)), dtype=np.float32)
    for k, v in sums.items():
        out[k] = v
    return _normalize(out)


def _sample_grid(
    out: np.ndarray, frame_vals: np.ndarray, f0: int, f1: int, step: float, start: float
) -> None:
    """Write ``out[i]`` (grid time ``start + i*step``) from the model frames ``f0..f1``
    whose centre is nearest to it."""
    if out.size == 0:
        return
    t_lo = (f0 - 0.5) * FRAME_STEP_S + FRAME_CENTER_S
    t_hi = (f1 - 0.5) * FRAME_STEP_S + FRAME_CENTER_S
    i0 = max(0, int(math.ceil((t_lo - start) / step)))
    i1 = min(out.size, int(math.ceil((t_hi - start) / step)))
    if i1 <= i0:
        return
    t = start + np.arange(i0, i1, dtype=np.float64) * step
    j = np.clip(np.rint((t - FRAME_CENTER_S) / FRAME_STEP_S).astype(np.int64) - f0, 0, f1 - f0 - 1)
    out[i0:i1] = frame_vals[j]


class _Counting:
    """Wraps a block iterator, counting samples (the true length of streamed files)."""

    def __init__(self, blocks: Iterator[np.ndarray]) -> None:
        self._it = iter(blocks)
        self.total = 0
        self.done = False

    def __iter__(self) -> _Counting:
        return self

    def __next__(self) -> np.ndarray:
        try:
            b = next(self._it)
        except StopIteration:
            self.done = True
            raise
        self.total += int(np.asarray(b).reshape(-1).shape[0])
        return b
