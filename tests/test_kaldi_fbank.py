"""The numpy Kaldi filterbank (CAM++'s front end) equals torchaudio's on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import campp, kaldi_fbank
from engine.audio import IDENTIFICATION_LIMITS, load_audio

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return load_audio(DATA / "pyannote_sample.wav", limits=IDENTIFICATION_LIMITS).samples[0]


def _torchaudio_fbank(x: np.ndarray) -> np.ndarray:
    import torch
    from torchaudio.compliance import kaldi

    t = torch.from_numpy(np.array(x, dtype=np.float32))[None] * 32768.0
    return kaldi.fbank(t, num_mel_bins=80, sample_frequency=16000, dither=0.0).numpy()


@pytest.mark.parametrize(("start", "n"), [(0, 400), (16000, 16123), (48000, 160000)])
def test_matches_torchaudio(speech: np.ndarray, start: int, n: int) -> None:
    x = speech[start : start + n]
    ours = kaldi_fbank.fbank(x * np.float32(32768.0))
    ref = _torchaudio_fbank(x)
    assert ours.shape == ref.shape == (1 + (n - 400) // 160, 80) and ours.dtype == np.float32
    # log energies: float32 rounding differences only
    np.testing.assert_allclose(ours, ref, atol=2e-3, rtol=0)


def test_mel_banks_match_torchaudio() -> None:
    from torchaudio.compliance.kaldi import get_mel_banks

    ref, _ = get_mel_banks(80, 512, 16000.0, 20.0, 0.0, 100.0, -500.0, 1.0)
    np.testing.assert_allclose(kaldi_fbank.mel_banks(80)[:256].T, ref.numpy(), atol=1e-4)  # torchaudio: float32
    assert not kaldi_fbank.mel_banks(80)[256].any()


def test_campp_features_and_embeddings_match_the_torch_path(
    speech: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows = np.stack([speech[i * 24000 : i * 24000 + 48000] for i in range(4)])
    ours = [campp.fbank(w) for w in windows]
    monkeypatch.setenv("VPSTUDIO_ENCODER_BACKEND", "torch")
    ref = [campp.fbank(w) for w in windows]
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-3)
    enc = campp.default_diarization_encoder()
    e_ref = enc.embed(windows)
    monkeypatch.delenv("VPSTUDIO_ENCODER_BACKEND")
    e_ours = enc.embed(windows)
    assert float((e_ours * e_ref).sum(axis=1).min()) >= 0.9999


def test_short_input_is_refused() -> None:
    with pytest.raises(ValueError):
        kaldi_fbank.fbank(np.zeros(399))
