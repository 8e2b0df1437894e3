"""Voice activity detection with silero-vad, run from the ONNX file its wheel ships.

The model is the stateful silero-vad v6 network: every call takes one 32 ms
frame (512 samples at 16 kHz) of each stream, prefixed with the last 64 samples
of that stream's previous frame, plus the LSTM state ``(2, batch, 128)``, and
returns one speech probability per stream. Run frame by frame over a whole file
this costs one ONNX call per 32 ms. Instead, long audio is cut into independent
streams of :data:`STREAM_FRAMES` frames (about 33 s), each starting from a zero
state after a :data:`WARMUP_FRAMES` warm-up on the audio just before it, and all
streams step forward together as one batch: a 1 h file takes about
``STREAM_FRAMES + WARMUP_FRAMES`` calls of batch 110 instead of 112,500 calls of
batch 1. Measured on the 2-core dev machine (busy): 1 h in 17.6 s batched, against
2.3 s per 120 s (about 70 s per hour) frame by frame. The warm-up keeps the batched
probabilities close to one long stream: cut into 4 s streams (7 boundaries in 30 s) the
pyannote sample differs by 0.006 on average and in 3 of 938 speech/non-speech
decisions. The first stream starts from a zero state exactly as silero's own loop does.

Nothing here imports torch or the ``silero_vad`` Python package (which imports
torch): the model folder is found with :func:`importlib.util.find_spec` and the
file is run with onnxruntime.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from engine.errors import ModelUnavailable, ValidationError
from engine.segments import ScoreTrack, Segment
from engine.weights import packaged_path

VAD_RATE = 16000
"""Sample rate the model runs at (Hz); equal to ``engine.audio.SAMPLE_RATE``."""
FRAME = 512
"""Samples per VAD frame (32 ms at 16 kHz)."""
CONTEXT = 64
"""Samples of the previous frame the model sees in front of each frame."""
STEP = FRAME / VAD_RATE
"""Seconds between VAD frames (0.032)."""
STREAM_FRAMES = 1024
"""Frames per independent stream (32.8 s)."""
WARMUP_FRAMES = 64
"""Frames (2.05 s) of the preceding audio a stream runs through, and discards, before its
first frame, so that stream boundaries do not show in the probabilities."""
MAX_BATCH = 512
"""At most this many streams per batch (about 4.7 h of audio); longer input runs in groups."""

MODEL_FILE = "silero_vad.onnx"
"""The model file in the wheel's ``silero_vad/data`` folder (silero-vad 6.x, MIT licence)."""

_lock = threading.Lock()
_session = None


def model_path() -> Path:
    """Path of the silero-vad ONNX file inside the installed ``silero-vad`` wheel.

    Raises:
        ModelUnavailable: the wheel is not installed or lacks the file.
    """
    return packaged_path(
        "silero_vad", f"data/{MODEL_FILE}", model="voice activity model", requirement="silero-vad"
    )


def _get_session():  # -> onnxruntime.InferenceSession
    """The shared onnxruntime session (created once; ``run`` is thread-safe)."""
    global _session
    with _lock:
        if _session is None:
            from engine.onnxrt import session

            # One thread: the work per call is tiny, so threads only add sync cost, and
            # the encoder wants the cores.
            path = model_path()
            try:
                _session = session(path, log_severity=2)
            except Exception as exc:  # corrupt or incompatible file
                raise ModelUnavailable(
                    f"The voice activity model does not load: {exc}", location=str(path)
                ) from exc
        return _session


def load() -> None:
    """Load the model now (otherwise it loads on first use). Raises :class:`ModelUnavailable`."""
    _get_session()


def _check_signal(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValidationError(
            f"VAD input must be one channel of samples, shape (n,); got shape {a.shape}.",
            location="samples",
        )
    if not np.issubdtype(a.dtype, np.floating):
        raise ValidationError(
            f"VAD input must be float samples; got {a.dtype}.", location="samples"
        )
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValidationError("VAD input holds NaN or infinite samples.", location="samples")
    return a


def speech_probabilities(
    x: np.ndarray,
    *,
    stream_frames: int = STREAM_FRAMES,
    warmup_frames: int = WARMUP_FRAMES,
    max_batch: int = MAX_BATCH,
) -> ScoreTrack:
    """Speech probability of every 32 ms frame of ``x``.

    Args:
        x: mono samples, shape ``(n,)``, float (cast to float32), 16 kHz, nominally in [-1, 1].
        stream_frames: frames per independent stream (batch row).
        warmup_frames: frames of preceding audio each stream (but the first) runs through first.
        max_batch: most streams per ONNX call.

    Returns:
        ScoreTrack with ``start=0``, ``step=0.032`` s and ``values`` float32 shape
        ``(ceil(n / 512),)`` in [0, 1]; frame ``i`` covers samples ``[512 i, 512 (i + 1))``
        (the last frame is zero-padded).

    Raises:
        ValidationError: not 1-D, not float, or NaN/inf samples.
        ModelUnavailable: the model does not load.
    """
    a = _check_signal(x)
    if stream_frames < 1 or warmup_frames < 0 or max_batch < 1:
        raise ValidationError("stream_frames and max_batch must be >= 1, warmup_frames >= 0.")
    n_frames = -(-a.size // FRAME)
    if n_frames == 0:
        return ScoreTrack(0.0, STEP, np.zeros(0, dtype=np.float32))
    session = _get_session()

    # Frames as rows, with one extra all-zero row at index -1 (= n_frames) so that
    # "frame before frame 0" and padding steps both read zeros.
    frames = np.zeros((n_frames + 1, FRAME), dtype=np.float32)
    frames.reshape(-1)[: a.size] = a

    starts = np.arange(0, n_frames, stream_frames)  # first kept frame of each stream
    ends = np.minimum(starts + stream_frames, n_frames)
    feeds = np.maximum(starts - warmup_frames, 0)  # first frame each stream is fed
    out = np.empty(n_frames, dtype=np.float32)
    sr = np.array(VAD_RATE, dtype=np.int64)

    for g in range(0, len(starts), max_batch):
        s, e, f = starts[g : g + max_batch], ends[g : g + max_batch], feeds[g : g + max_batch]
        b = len(s)
        steps = int((e - f).max())
        state = np.zeros((2, b, 128), dtype=np.float32)
        probs = np.empty((b, steps), dtype=np.float32)
        inp = np.empty((b, CONTEXT + FRAME), dtype=np.float32)
        for t in range(steps):
            rows = f + t
            rows = np.where(rows < e, rows, n_frames)  # finished streams read the zero row
            prev = np.where((rows > 0) & (rows < n_frames), rows - 1, n_frames)
            inp[:, :CONTEXT] = frames[prev, -CONTEXT:]
            inp[:, CONTEXT:] = frames[rows]
            p, state = session.run(None, {"input": inp, "state": state, "sr": sr})
            probs[:, t] = p[:, 0]
        for i in range(b):
            skip = int(s[i] - f[i])
            out[s[i] : e[i]] = probs[i, skip : skip + int(e[i] - s[i])]
    return ScoreTrack(0.0, STEP, out)


def regions_from_probabilities(
    track: ScoreTrack,
    duration: float,
    *,
    threshold: float = 0.5,
    neg_threshold: float | None = None,
    min_speech: float = 0.25,
    min_silence: float = 0.1,
    pad: float = 0.03,
) -> list[Segment]:
    """Speech regions from a probability track (silero's own post-processing rules).

    Hysteresis: speech starts where the probability reaches ``threshold`` and ends where it
    falls under ``neg_threshold`` (default ``threshold - 0.15``). Gaps shorter than
    ``min_silence`` seconds are bridged, regions shorter than ``min_speech`` seconds are
    dropped, and each region is widened by ``pad`` seconds on both sides (clipped to
    ``[0, duration]``; regions that then touch are merged).

    Args:
        track: 1-D probabilities, e.g. from :func:`speech_probabilities`.
        duration: length of the audio in seconds (end of the last region is clipped to it).

    Returns:
        Sorted, non-overlapping segments in seconds.
    """
    p = np.asarray(track.values, dtype=np.float32)
    if p.ndim != 1:
        raise ValidationError("regions_from_probabilities needs a 1-D track.", location="track")
    if not 0.0 < threshold < 1.0:
        raise ValidationError("threshold must be in (0, 1).", location="threshold")
    neg = max(threshold - 0.15, 0.01) if neg_threshold is None else neg_threshold
    if p.size == 0:
        return []
    idx = np.arange(p.size)
    last_on = np.maximum.accumulate(np.where(p >= threshold, idx, -1))
    last_off = np.maximum.accumulate(np.where(p < neg, idx, -1))
    speech = last_on > last_off
    edges = np.diff(np.concatenate(([0], speech.astype(np.int8), [0])))
    on_frames = np.flatnonzero(edges == 1)
    off_frames = np.flatnonzero(edges == -1)
    times = [
        (float(track.start + a * track.step), float(min(track.start + b * track.step, duration)))
        for a, b in zip(on_frames, off_frames, strict=True)
    ]
    merged: list[list[float]] = []
    for a, b in times:
        if merged and a - merged[-1][1] < min_silence:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    kept = [(a, b) for a, b in merged if b - a >= min_speech]
    out: list[list[float]] = []
    for a0, b0 in kept:
        a, b = max(0.0, a0 - pad), min(duration, b0 + pad)
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [Segment(float(a), float(b)) for a, b in out if b > a]


def speech_regions(
    x: np.ndarray,
    *,
    threshold: float = 0.5,
    min_speech: float = 0.25,
    min_silence: float = 0.1,
    pad: float = 0.03,
) -> list[Segment]:
    """Speech regions of ``x`` in seconds.

    Args:
        x: mono samples, shape ``(n,)``, float32, 16 kHz.
        threshold: speech probability that starts a region (0..1).
        min_speech: shortest region kept, seconds.
        min_silence: shortest gap kept between regions, seconds (shorter gaps are bridged).
        pad: seconds added on both sides of every region.

    Returns:
        Sorted, non-overlapping segments within ``[0, n / 16000]``.
    """
    track = speech_probabilities(x)
    return regions_from_probabilities(
        track,
        np.asarray(x).shape[0] / VAD_RATE,
        threshold=threshold,
        min_speech=min_speech,
        min_silence=min_silence,
        pad=pad,
    )


def speech_mask(regions: list[Segment], n: int, rate: int = VAD_RATE) -> np.ndarray:
    """Boolean mask, shape ``(n,)``, True for samples inside ``regions`` (seconds at ``rate`` Hz)."""
    mask = np.zeros(n, dtype=bool)
    for seg in regions:
        mask[max(0, int(round(seg.start * rate))) : min(n, int(round(seg.end * rate)))] = True
    return mask
