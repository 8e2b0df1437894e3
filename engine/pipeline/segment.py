"""Stage 1, segmentation: 10 s chunks -> up to three local speakers' activity per frame.

pyannote segmentation-3.0 (:mod:`engine.segmentation`); its "no speech" class is the
voice activity. Chunks with no frame of speech energy skip the model (and so the
embedding stage, which only sees active frames): :func:`quiet_chunks`. An energy gate
rather than silero-vad (:mod:`engine.vad`), because silero costs about as much per
10 s chunk as segmentation itself (0.03 s against 0.038 s on one core), so running it
first could not save time.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Generator, Iterable, Sequence

import numpy as np

from engine.pipeline.frames import runs_of
from engine.pipeline.runtime import CANCEL_POLL_S, ModelWorker, Pacer
from engine.pipeline.source import Chunk
from engine.segmentation import (
    CHUNK_FRAMES,
    FRAME_SIZE,
    FRAME_STEP,
    NUM_LOCAL_SPEAKERS,
    SAMPLE_RATE,
    Segmenter,
    powerset_to_speakers,
)

SILENCE_PEAK = 10 ** (-60 / 20)
"""Chunks whose peak stays under -60 dBFS are not segmented (no speech)."""
QUIET_DBFS = -60.0
"""Chunks none of whose :data:`GATE_FRAME` frames reaches this RMS level (dBFS) are not
segmented: a noise floor (the dev set's is -70 dBFS) with no speech over it."""
GATE_FRAME = 512
"""Samples per frame of the energy gate (32 ms)."""
ENERGY_GATE = True
"""Skip quiet chunks (:func:`quiet_chunks`); False: only near-digital silence
(peak under :data:`SILENCE_PEAK`) is skipped, as before."""

QUIET_FRAME_SECONDS = 0.25
"""Within a segmented chunk, a stretch at least this long whose every frame's RMS (over
the frame's 62 ms receptive field) stays under :data:`QUIET_DBFS` is not speech, whatever
the model says: segmentation-3.0 keeps one speaker active across pauses of digital
silence (a -70 dBFS floor) and so chains two people's turns into one run, which then
take one embedding and one name (bench/bench_decisions.py --devset full: all of the
never-enrolled speech that took a library name did so that way). Pauses between words
are kept as they are (shorter than this, or louder). 0.4 s at first; with the cuts of
runs at short pauses (engine.pipeline.linking.CUT_GAP_SECONDS) 0.4 / 0.3 / 0.25 / 0.2 s
gave right names 97.4 / 98.2 / 98.5 / 98.5 %, strangers named 2.0 / 2.0 / 1.4 / 1.6 %,
DER25 4.4 / 3.7 / 3.5 / 3.5 % on the 40-speaker dev set (cuts with 1 s sides), the
pyannote sample unchanged (its pauses are room noise, far above -60 dBFS). This gate
only acts on near-digital silence; a recording whose pauses hold room noise relies on
the segmentation model and the cuts at short pauses alone."""
QUIET_BELOW_SPEECH_DB = 30.0
"""The quiet level of :data:`QUIET_FRAME_SECONDS` is also at least this far under the
chunk's speech (its 95th-percentile frame): in a recording made with a very low gain,
speech itself may sit near -60 dBFS and must not be taken for a pause."""
QUIET_FRAME_GATE = True
"""Apply :data:`QUIET_FRAME_SECONDS` (:func:`quiet_frames`)."""

SEGMENT_AHEAD = True
"""Segment the next batch while the current one is embedded (:func:`segment_ahead`)."""


def quiet_chunks(x: np.ndarray) -> np.ndarray:
    """Which chunks hold no speech energy.

    Args:
        x: float32 ``(b, CHUNK_SAMPLES)`` 16 kHz chunks.

    Returns:
        bool ``(b,)``: True where the peak is under :data:`SILENCE_PEAK` or (with
        :data:`ENERGY_GATE`) no 32 ms frame's RMS reaches :data:`QUIET_DBFS`.
    """
    silent = np.abs(x).max(axis=1) < SILENCE_PEAK
    if not ENERGY_GATE:
        return np.asarray(silent)
    n = x.shape[1] - x.shape[1] % GATE_FRAME
    frames = x[:, :n].reshape(x.shape[0], -1, GATE_FRAME)
    ms = np.einsum("bfs,bfs->bf", frames, frames) / GATE_FRAME
    if n < x.shape[1]:
        tail = x[:, n:]
        ms = np.concatenate([ms, (tail * tail).mean(axis=1, keepdims=True)], axis=1)
    loudest = ms.max(axis=1) if ms.shape[1] else np.zeros(x.shape[0])
    return np.asarray(silent | (loudest < 10 ** (QUIET_DBFS / 10)))


def quiet_frames(x: np.ndarray) -> np.ndarray:
    """Which segmentation frames lie in a long quiet stretch.

    Args:
        x: float32 ``(b, CHUNK_SAMPLES)`` 16 kHz chunks.

    Returns:
        bool ``(b, CHUNK_FRAMES)``: True on frames whose receptive field's RMS is under
        :data:`QUIET_DBFS` (and :data:`QUIET_BELOW_SPEECH_DB` under the chunk's speech),
        in runs of at least :data:`QUIET_FRAME_SECONDS`.
    """
    b = x.shape[0]
    out = np.zeros((b, CHUNK_FRAMES), dtype=bool)
    if not QUIET_FRAME_GATE or b == 0:
        return out
    # mean square over each frame's receptive field, from a cumulative sum of 10-sample
    # blocks (frame edges rounded to 10 samples: a 0.6 ms blur, 5x less work per hour)
    blk = 10
    n = x.shape[1] // blk * blk
    sums = np.square(x[:, :n], dtype=np.float32).reshape(b, -1, blk).sum(axis=2)
    sq = np.concatenate([np.zeros((b, 1)), np.cumsum(sums, axis=1, dtype=np.float64)], axis=1)
    nb = sums.shape[1]
    starts = np.minimum((np.arange(CHUNK_FRAMES) * FRAME_STEP + blk // 2) // blk, nb)
    ends = np.minimum(starts + (FRAME_SIZE + blk // 2) // blk, nb)
    ms = (sq[:, ends] - sq[:, starts]) / np.maximum((ends - starts) * blk, 1)
    speech_level = np.percentile(ms, 95, axis=1, keepdims=True)
    level = np.minimum(10 ** (QUIET_DBFS / 10), speech_level * 10 ** (-QUIET_BELOW_SPEECH_DB / 10))
    quiet = ms < level
    need = int(round(QUIET_FRAME_SECONDS * SAMPLE_RATE / FRAME_STEP))
    for i in range(b):
        for a, e in runs_of(quiet[i], 1):
            if e - a >= need:
                out[i, a:e] = True
    return out


def segment_chunks(
    chunks: Sequence[Chunk], segmenter: Segmenter, work: ModelWorker, pace: Pacer
) -> np.ndarray:
    """Local speaker activity of a batch of chunks.

    Chunks without speech energy (:func:`quiet_chunks`: digital silence, a bare noise
    floor) hold no speaker, so they skip the model (long silent recordings); frames past
    the end of the audio are inactive, and so are long stretches of near-silence inside a
    chunk (:func:`quiet_frames`).

    Returns:
        uint8 ``(len(chunks), CHUNK_FRAMES, NUM_LOCAL_SPEAKERS)``, 1 where active.
    """
    x = np.stack([c.samples for c in chunks])
    loud = ~quiet_chunks(x)
    a = np.zeros((len(chunks), CHUNK_FRAMES, NUM_LOCAL_SPEAKERS), dtype=np.uint8)
    if loud.any():
        t0 = time.perf_counter()
        logp = work(segmenter.run, x[loud])
        pace.timed(int(loud.sum()), time.perf_counter() - t0)
        a[loud] = powerset_to_speakers(logp).astype(np.uint8)
        a[loud] *= ~quiet_frames(x[loud])[:, :, None]
    for c, act in zip(chunks, a, strict=True):
        valid = min(CHUNK_FRAMES, max(0, (c.valid - FRAME_SIZE) // FRAME_STEP + 1))
        act[valid:] = 0
    return a


def segment_ahead(
    batches: Iterable[list[Chunk]],
    segmenter: Segmenter,
    pace: Pacer,
    check: Callable[[], None],
) -> Generator[tuple[list[Chunk], np.ndarray], None, None]:
    """``(chunks, activity)`` of each batch, segmenting the next batch on a background
    thread while the caller links and embeds the current one.

    Segmentation and the diarization encoder then run at the same time on different
    cores instead of taking turns. At most two batches are in flight (one when
    :data:`SEGMENT_AHEAD` is False: each batch is segmented, then handed over). ``check`` is
    polled every :data:`~engine.pipeline.runtime.CANCEL_POLL_S` while waiting; when
    the caller stops (a cancel, an error), the batch in flight finishes in the
    background and is dropped.

    Args:
        batches: lists of chunks, in order (read on the caller's thread).
        segmenter, pace: as for :func:`segment_chunks`.
        check: raises when the job is cancelled.

    Yields:
        each batch with its uint8 ``(len(batch), CHUNK_FRAMES, NUM_LOCAL_SPEAKERS)``
        activity (:func:`segment_chunks`).
    """
    inline = ModelWorker(None)
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="segment")
    pending: list[tuple[list[Chunk], concurrent.futures.Future[np.ndarray]]] = []
    try:
        for batch in batches:
            check()
            pending.append((batch, pool.submit(segment_chunks, batch, segmenter, inline, pace)))
            if len(pending) > (1 if SEGMENT_AHEAD else 0):
                yield _wait(pending.pop(0), check)
        while pending:
            yield _wait(pending.pop(0), check)
    finally:
        for _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=False)


def _wait(
    item: tuple[list[Chunk], concurrent.futures.Future[np.ndarray]], check: Callable[[], None]
) -> tuple[list[Chunk], np.ndarray]:
    batch, fut = item
    while True:
        try:
            return batch, fut.result(timeout=CANCEL_POLL_S)
        except concurrent.futures.TimeoutError:
            check()
