"""One-time conversion of the SpeechBrain ECAPA model to ONNX (needs torch, speechbrain, onnx).

The exported graph is the whole of ``EncoderClassifier.encode_batch(wavs, wav_lens)``:
the Fbank front end, per-utterance mean normalisation over each row's valid frames,
and the ECAPA-TDNN with its length masks. Inputs ``wavs`` float32 ``(b, n)`` 16 kHz and
``lens`` float32 ``(b,)`` (valid fraction of each row); output ``emb`` float32
``(b, 192)``, not normalised.

Two parts of SpeechBrain do not trace to ONNX as they are, so they are replaced for
the export by equal computations:

* the STFT (``torch.stft`` has no ONNX export here): a convolution with the hamming-
  windowed DFT basis on the centre-padded signal, which is what ``torch.stft(n_fft=400,
  hop=160, center=True, pad_mode="constant")`` computes;
* ``length_to_mask`` builds its mask with ``expand(len(length), ...)``, which the tracer
  freezes at the example's batch size; a broadcast comparison does the same for any
  batch.

The export is checked against ``encode_batch`` itself before it is accepted.
"""

from __future__ import annotations

import unittest.mock
import warnings
from pathlib import Path
from typing import Any

import numpy as np

EXPORT_VERSION = "v1"
"""Part of the cache name: changing the graph (this module) must change it."""
MIN_COSINE = 0.9999
"""Least cosine between the export's and PyTorch's embeddings accepted at export."""


def _front_end_module(fbank: Any) -> Any:
    """``torch.nn.Module`` of the speechbrain ``Fbank`` ``fbank`` (n_fft 400, hop 160,
    hamming window, power spectrum) built from ops that export to ONNX."""
    import torch

    stft = fbank.compute_STFT
    if (stft.n_fft, stft.win_length, stft.hop_length, stft.center) != (400, 400, 160, True):
        raise RuntimeError("unsupported Fbank configuration for the ONNX export")
    if stft.pad_mode != "constant" or stft.normalized_stft or not stft.onesided:
        raise RuntimeError("unsupported STFT configuration for the ONNX export")
    if fbank.deltas or fbank.context:
        raise RuntimeError("unsupported Fbank configuration for the ONNX export")

    class FrontEnd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            n = torch.arange(stft.n_fft, dtype=torch.float64)
            k = torch.arange(stft.n_fft // 2 + 1, dtype=torch.float64)[:, None]
            win = stft.window.to(torch.float64)
            ang = 2 * torch.pi * k * n / stft.n_fft
            basis = torch.cat([torch.cos(ang) * win, -torch.sin(ang) * win])
            self.register_buffer("basis", basis[:, None, :].float())
            self.bins = stft.n_fft // 2 + 1
            self.pad = stft.n_fft // 2
            self.hop = stft.hop_length
            self.fbanks = fbank.compute_fbanks

        def forward(self, wavs: Any) -> Any:
            x = torch.nn.functional.pad(wavs[:, None, :], (self.pad, self.pad))
            spec = torch.nn.functional.conv1d(x, self.get_buffer("basis"), stride=self.hop)
            re, im = spec[:, : self.bins], spec[:, self.bins :]
            return self.fbanks((re * re + im * im).transpose(1, 2))

    return FrontEnd()


def _graph_module(model: Any) -> Any:
    import torch

    mods = model.mods

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = _front_end_module(mods.compute_features)
            self.norm = mods.mean_var_norm
            self.ecapa = mods.embedding_model

        def forward(self, wavs: Any, lens: Any) -> Any:
            feats = self.norm(self.features(wavs), lens)
            return self.ecapa(feats, lens).squeeze(1)

    return Graph().eval()


def _length_to_mask(
    length: Any, max_len: Any = None, dtype: Any = None, device: Any = None
) -> Any:
    import torch

    mask = torch.arange(max_len, device=length.device, dtype=length.dtype)[None, :] < length[
        :, None
    ]
    return mask.to(dtype or length.dtype)


def _probe(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of speech-like noise (shaped, with pauses) with varied lengths."""
    out = []
    for b, n in ((1, 48000), (3, 40000), (2, 1600)):
        x = rng.normal(0, 0.1, (b, n)).astype(np.float32)
        x *= (np.sin(np.arange(n) / 1600.0) > -0.5).astype(np.float32)
        lens = np.linspace(1.0, 0.6, b).astype(np.float32)
        out.append((x, lens))
    return out


def export(model: Any, dest: Path) -> None:
    """Write the ONNX graph of the speechbrain ``EncoderClassifier`` ``model`` to ``dest``.

    Raises:
        RuntimeError: the export does not reproduce ``model.encode_batch`` (cosine below
            :data:`MIN_COSINE` on the probe batches).
        Exception: whatever torch's exporter raises.
    """
    import speechbrain.lobes.models.ECAPA_TDNN as ecapa_module
    import torch

    from engine.onnxrt import session

    graph = _graph_module(model)
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (2, 32000)).astype(np.float32))
    lens = torch.tensor([1.0, 0.7])
    with (
        torch.inference_mode(),
        warnings.catch_warnings(),
        unittest.mock.patch.object(ecapa_module, "length_to_mask", _length_to_mask),
    ):
        # the TorchScript exporter is deprecated but needs no extra package (onnxscript)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, (x, lens), str(dest), input_names=["wavs", "lens"], output_names=["emb"],
            dynamic_axes={"wavs": {0: "batch", 1: "samples"}, "lens": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    sess = session(dest)
    with torch.inference_mode():
        for w, rel in _probe(np.random.default_rng(1)):
            ref = model.encode_batch(torch.from_numpy(w), torch.from_numpy(rel))
            ref = ref.reshape(w.shape[0], -1).numpy()
            got = sess.run(None, {"wavs": w, "lens": rel})[0]
            cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
            if not np.all(cos >= MIN_COSINE):
                raise RuntimeError(
                    f"the ONNX export of ECAPA disagrees with PyTorch (cosine {cos.min():.6f})"
                )
