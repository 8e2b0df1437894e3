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
   :data:`MAX_EMBED_SECONDS`, of which CAM++ embeds the middle
   :data:`engine.pipeline.embedding.EMBED_SECONDS`; overlapped speech only when there is too little
   clean speech); units reaching :data:`UNIT_MAX_SECONDS` start a new one. The
   embeddings come from the *diarization encoder*, CAM++ (:mod:`engine.campp`),
   which costs about a quarter of ECAPA per second of audio: a conversation has
   ~750 pause-delimited units per hour, and embedding all of them with ECAPA would
   alone take over 100 s per hour on two cores. Chunks whose peak is under
   -60 dBFS, or none of whose 32 ms frames reaches -60 dBFS RMS, are not segmented;
   the next batch of chunks is segmented on another thread while this one is embedded.
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

Each step is a stage module of :mod:`engine.pipeline` with typed, frozen inputs and
outputs; :func:`identify` only wires them together.

Audio is consumed in blocks (a path is streamed with
:func:`engine.audio.iter_blocks`, twice: the second pass stops at the last chunk
that holds a unit chosen for identification), so peak memory does not grow with
duration except for the per-chunk results (589 x 3 run-map bytes per chunk, an embedding
per unit) and the confidence track (4 bytes per ``resolution``): about 7 MB per
hour of audio in all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from engine.errors import ModelMismatch, ModelUnavailable, ValidationError
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.pipeline.cluster_voiceprint import (
    ID_SECONDS_PER_CLUSTER,
    ID_UNITS_PER_CLUSTER,
    cluster_embeddings,
    pick_typical,
)
from engine.pipeline.clustering import CLUSTER_DISTANCE, Clusters, cluster, cluster_units
from engine.pipeline.cohort import default_cohort
from engine.pipeline.confidence import MAX_CURVE_ROWS, ConfidenceTracks, memberships, row_scores
from engine.pipeline.decision import (
    DEFAULT_DECISIONS,
    Decision,
    Decisions,
    cluster_activity,
    decide,
    mark_split,
    overlapping,
    split_mixed,
)
from engine.pipeline.embedding import UnitEmbedder, UnitEmbeddings, normalize_rows
from engine.pipeline.linking import UnitLinker, Units
from engine.pipeline.reconstruction import chunk_offsets, frame_count, reconstruct, run_tables
from engine.pipeline.result import MAX_MATCHES, ClusterInfo, IdentificationResult
from engine.pipeline.runtime import Checker, ModelWorker, Pacer
from engine.pipeline.segment import segment_ahead
from engine.pipeline.source import (
    Chunk,
    CountingBlocks,
    Source,
    chunk_count,
    iter_chunks,
    open_source,
)
from engine.pipeline.turns import TurnRuns, label_turns, runs_to_spans
from engine.segmentation import Segmenter, default_segmenter

__all__ = [
    "CHUNK_STEP_SECONDS",
    "CLUSTER_DISTANCE",
    "ID_SECONDS_PER_CLUSTER",
    "ID_UNITS_PER_CLUSTER",
    "MAX_CURVE_ROWS",
    "MAX_MATCHES",
    "ClusterInfo",
    "IdentificationResult",
    "identify",
]

SAMPLE_RATE = 16000
CHUNK_STEP_SECONDS = 7.5
"""Step between 10 s segmentation chunks. pyannote uses 1 s; here each frame is seen by
one or two chunks, and consecutive chunks share 2.5 s (148 frames) on which their local
speakers are linked. Against 5 s it saves a third of the segmentation time (about 8 s
per hour of audio) with the same DER on the dev set (bench/bench_accuracy.py). Longer
steps (8.5, 9.5 s: 10-18 % fewer chunks) and shorter CAM++ windows were measured with
``bench/bench_identify.py --sweep`` (issue 15): the dev set's scores moved both ways, and
the pyannote sample's DER rose (6.9 % to 10-13 %), so both stay."""
_BATCH_TARGET_S = 1.5
"""Wall time per model call: ECAPA costs ~1.5-2x less per second of audio in batches
of several windows than one by one. Calls run on a worker thread while the caller
polls the cancel token, so cancelling still answers at once (the batch in flight
finishes in the background and is dropped)."""
_READ_BLOCK_SECONDS = 60.0  # file blocks streamed by iter_blocks

# the stages' helpers under the names the tests and benches have used
_iter_chunks = iter_chunks
_chunk_starts = chunk_count
_pick_typical = pick_typical
_cluster = cluster


def _source_blocks(audio: Any) -> Source:
    """``(blocks, total samples or -1, duration)`` of any input (:func:`open_source`)."""
    return open_source(audio, block_seconds=_READ_BLOCK_SECONDS)


def _calibration() -> tuple[Any, float]:
    """``(cosine_to_score, DEFAULT_THRESHOLD)`` from :mod:`engine.calibration`."""
    from engine.calibration import DEFAULT_THRESHOLD, cosine_to_score

    return cosine_to_score, float(DEFAULT_THRESHOLD)


def _check_count(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValidationError(f"{name} must be a positive integer or None.", location=name)
    return int(value)


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


def _voiceprint_matrix(
    voiceprints: Mapping[str, Any], model_id: str, encoder: Any
) -> tuple[list[str], np.ndarray, int]:
    """``(ids, float32 (V, dim) unit-norm voiceprints, dim)``, checked against the model."""
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
    V = normalize_rows(np.stack(vecs)) if vecs else np.zeros((0, max(dim, 1)), dtype=np.float32)
    return ids, V, dim


def _first_pass(
    blocks: Iterator[np.ndarray],
    *,
    step: int,
    segmenter: Segmenter,
    dia: Any,
    dim: int,
    n_chunks_est: int,
    progress: ProgressFn,
    cancel: CancelToken | None,
) -> tuple[Units, UnitEmbeddings, int]:
    """Stages 1-3 streamed over the audio: segmentation, linking, unit embeddings.

    Returns ``(units, embeddings, samples read)``.
    """
    check = Checker(cancel)
    # batch caps bound the transient activations (ECAPA: ~17 MB per second embedded)
    seg_pace = Pacer(_BATCH_TARGET_S, 4, 8)
    batch_s = float(getattr(dia, "batch_seconds", 16.0))
    emb_pace = Pacer(_BATCH_TARGET_S, int(12 * SAMPLE_RATE), int(batch_s * SAMPLE_RATE))
    linker = UnitLinker(step)
    work = ModelWorker(cancel)
    embedder = UnitEmbedder(dia, work, emb_pace, check)

    counted = CountingBlocks(blocks)

    def batches() -> Iterator[list[Chunk]]:
        batch: list[Chunk] = []
        for item in iter_chunks(counted, step):
            batch.append(item)
            if len(batch) >= seg_pace.size or item.is_last:
                yield batch
                batch = []
        if batch:
            yield batch

    # the next batch is segmented on another thread while this one is linked and embedded
    ahead = segment_ahead(batches(), segmenter, seg_pace, check)
    try:
        for chunks, acts in ahead:
            check()
            for c, act in zip(chunks, acts, strict=True):
                embedder.submit(linker.add(c.samples, act))
            embedder.flush(False)
            if n_chunks_est:
                frac = min(0.85, 0.85 * linker.chunks_seen / n_chunks_est)
                progress(frac, "Segmenting and embedding")
        embedder.submit(linker.finish())
        embedder.flush(True)
    finally:
        ahead.close()
        work.close()
    units = linker.units()
    return units, embedder.result(units, dim), counted.total


def _decide(
    cents: np.ndarray,
    V: np.ndarray,
    units: Units,
    tables: list[np.ndarray],
    k: int,
    model_id: str,
    to_score: Any,
    threshold: float,
    rules: Decisions,
) -> Decision:
    """Stage 5: the decision layer, with the clusters' overlap and the cohort it needs."""
    if rules.legacy:
        overlap = np.zeros((k, k), dtype=bool)
    else:
        overlap = overlapping(*cluster_activity(units.run_maps, tables, k))
    cohort = (
        normalize_rows(np.asarray(rules.cohort, dtype=np.float32))
        if rules.cohort is not None
        else default_cohort(model_id, int(V.shape[1]))
    )
    if cohort.shape[1] != V.shape[1]:
        cohort = np.zeros((0, V.shape[1]), dtype=np.float32)
    return decide(
        cents, V, cohort=cohort, to_score=to_score, threshold=threshold, overlap=overlap,
        rules=rules,
    )


def _name_clusters(
    audio: Any,
    step: int,
    units: Units,
    emb: UnitEmbeddings,
    clusters: Clusters,
    encoder: Any,
    V: np.ndarray,
    *,
    separate: bool,
    model_id: str,
    to_score: Any,
    threshold: float,
    rules: Decisions,
    progress: ProgressFn,
    cancel: CancelToken | None,
) -> tuple[Decision, np.ndarray]:
    """Stages 4b-5: clusters in the voiceprint model's space, mixed ones split, names.

    Returns the decision and the final cluster of each embedding row (-1: none).
    """
    check = Checker(cancel)
    K = clusters.k
    cents = clusters.centroids
    labels = clusters.labels
    split_off = np.zeros(0, dtype=np.int64)
    if separate and K:
        progress(0.87, "Identifying")
        work = ModelWorker(cancel)
        try:
            cv = cluster_embeddings(
                lambda: open_source(audio, block_seconds=_READ_BLOCK_SECONDS).blocks,
                step, units.run_maps, emb.locs, emb.vectors, clusters.labels,
                clusters.centroids, emb.clean, encoder, work, check,
                weight=emb.weight if rules.split_mixed else None,
            )
        finally:
            work.close()
        check()
        cents = cv.cents
        if cv.parts is not None and V.shape[0]:
            split = split_mixed(
                cents, cv.parts, cv.part_of_row, labels, V, to_score=to_score,
                threshold=threshold,
            )
            labels, cents, split_off = split.labels, split.cents, split.split_off
            K = int(cents.shape[0])

    progress(0.9, "Building turns")
    _emb_rows, tables = run_tables(units.unit_rows, emb.units, len(units.speech), labels)
    decision = _decide(cents, V, units, tables, K, model_id, to_score, threshold, rules)
    if split_off.size:
        decision = mark_split(decision, list(range(K - split_off.size, K)))
    if decision.cents.shape[0] != K:  # clusters sharing a name were merged
        labels = np.where(labels >= 0, decision.new_index[np.maximum(labels, 0)], -1)
    return decision, labels


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
    decisions: Decisions | None = None,
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
        decisions: the naming rules (default
            :data:`engine.pipeline.decision.DEFAULT_DECISIONS`, all on;
            ``LEGACY_DECISIONS`` is the first pipeline's one-to-one assignment).
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
    rules = DEFAULT_DECISIONS if decisions is None else decisions
    if not isinstance(rules, Decisions) or rules.normalisation not in ("asnorm", "none"):
        raise ValidationError("decisions must be an engine.pipeline.decision.Decisions.",
                              location="decisions")
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
    ids, V, dim = _voiceprint_matrix(voiceprints, model_id, encoder)

    segmenter = segmenter or default_segmenter()
    src = open_source(audio, block_seconds=_READ_BLOCK_SECONDS)
    step = int(round(CHUNK_STEP_SECONDS * SAMPLE_RATE))
    progress(0.0, "Segmenting")
    units, emb, total_samples = _first_pass(
        src.blocks, step=step, segmenter=segmenter, dia=dia, dim=dim,
        n_chunks_est=chunk_count(src.total, step) if src.total > 0 else 0,
        progress=progress, cancel=cancel,
    )
    duration = total_samples / SAMPLE_RATE
    check = Checker(cancel)
    progress(0.86, "Clustering")
    check()
    clusters = cluster_units(
        emb, num=num, lo=lo, hi=hi, distance=distance, membership=member_fn
    )
    check()
    decision, labels = _name_clusters(
        audio, step, units, emb, clusters, encoder, V, separate=separate, model_id=model_id,
        to_score=to_score, threshold=float(threshold), rules=rules, progress=progress,
        cancel=cancel,
    )
    emb_rows, tables = run_tables(units.unit_rows, emb.units, len(units.speech), labels)
    K = int(decision.cents.shape[0])
    member = memberships(
        emb.vectors, clusters.labels, clusters.centroids, separate=separate, membership=member_fn
    )
    rows = row_scores(
        emb.vectors, labels, member, decision.assignment, V,
        separate=separate, to_score=to_score, curves=confidence,
    )
    n_frames = frame_count(total_samples)
    tracks = ConfidenceTracks(
        duration, resolution, k=K, curve_rows=int(rows.curve_rows.size), confidence=confidence
    )
    turn_runs = TurnRuns(K)
    for block in reconstruct(
        units.run_maps, tables, emb_rows, rows.score, rows.curve, k=K, n_frames=n_frames,
        offsets=chunk_offsets(len(units.run_maps), step), check=check,
    ):
        turn_runs.feed(block)
        tracks.feed(block)

    progress(0.97, "Labelling")
    a = decision.assignment
    labelled = label_turns(
        runs_to_spans(turn_runs.finish(n_frames), duration),
        assigned=a.assigned, ref=a.ref, scores=a.scores, ids=ids, cents=decision.cents,
        why=None if rules.legacy else decision.why,
    )
    curves = tracks.curves()
    progress(1.0, "Done")
    return IdentificationResult(
        turns=labelled.turns,
        confidence=tracks.confidence(),
        speaker_curves=curves,
        speaker_ids=tuple(ids[int(r)] for r in rows.curve_rows) if curves is not None else (),
        clusters=labelled.clusters,
        duration=duration,
        model_id=model_id,
        num_speakers=int(labelled.present.size),
    )
