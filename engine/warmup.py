"""Load every model of enrollment and identification ahead of first use.

The window calls :func:`warm_up` on a worker as soon as it opens, so the first
enrollment and identification do not pay for loading (or, on the very first start,
converting) the models. Each model is loaded once per process by its own cached
``default_*`` function, so a job that needs a model while it is still loading simply
waits for it; nothing is loaded twice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.jobs import CancelToken, ProgressFn, no_progress


def _vad() -> None:
    from engine import vad

    vad.speech_probabilities(np.zeros(16000, np.float32))


def _segmentation() -> None:
    from engine.segmentation import default_segmenter

    default_segmenter()


def _diarization_encoder() -> None:
    from engine.campp import default_diarization_encoder

    default_diarization_encoder().embed(np.zeros((1, 16000), np.float32))


def _speaker_encoder() -> None:
    from engine.encoder import default_encoder

    default_encoder().embed(np.zeros((1, 16000), np.float32))


def _pipeline_modules() -> None:
    from engine import heavy_imports

    heavy_imports.load("engine.enroll", "engine.identify")


STEPS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("speaker model", _speaker_encoder),
    ("voice activity model", _vad),
    ("diarization model", _diarization_encoder),
    ("segmentation model", _segmentation),
    ("identification", _pipeline_modules),
)
"""What is loaded, in order: enrollment's models first (it needs only ECAPA and VAD)."""


def warm_up(progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> None:
    """Load (and run once) every model of enrollment and identification.

    Raises:
        Cancelled: ``cancel`` was set; checked between models (loading one model is
            not interruptible, the longest ~1 s, or the one-time ONNX conversion).
        ModelUnavailable: a model does not load (the same error its first use gives).
    """
    for i, (what, step) in enumerate(STEPS):
        if cancel is not None:
            cancel.check()
        progress(i / len(STEPS), f"Loading models… ({what})")
        step()
    progress(1.0, "Models loaded.")
