"""The models load and run with the network blocked: no hub, no download, ever."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from engine import encoder as enc_mod
from engine import vad
from engine.errors import ModelUnavailable

DATA = Path(__file__).parent / "data"


class _NoSocket(socket.socket):
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise OSError("network access attempted in an offline test")


def _refuse(*args: object, **kwargs: object) -> None:
    raise OSError("network access attempted in an offline test")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # speechbrain/torch import first: their import-time code may legitimately subclass
    # socket.socket (ssl does), which a plain function in its place would break.
    import speechbrain.inference.speaker  # noqa: F401

    monkeypatch.setattr(socket, "socket", _NoSocket)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # offline must not rest on this switch
    with pytest.raises(OSError):
        socket.create_connection(("example.org", 443))
    with pytest.raises(OSError):
        socket.socket()


def test_encoder_loads_and_embeds_offline(no_network: None) -> None:
    enc = enc_mod.EcapaEncoder(threads=2)  # a fresh load, not the cached default
    assert enc is not enc_mod._default
    x = np.random.default_rng(1).normal(0, 0.1, (3, 24000)).astype(np.float32)
    e = enc.embed(x)
    assert e.shape == (3, 192) and e.dtype == np.float32
    assert np.isfinite(e).all()
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_vad_loads_offline(no_network: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vad, "_session", None)  # force a fresh load
    t = np.arange(16000 * 2) / 16000
    track = vad.speech_probabilities((0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    assert track.num_frames == 63 and np.isfinite(track.values).all()
    assert vad._session is not None


def test_diarization_encoder_loads_offline(
    no_network: None, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from engine.campp import CamppEncoder

    monkeypatch.setenv("VPSTUDIO_CACHE", str(tmp_path / "cache"))  # the ONNX export too
    enc = CamppEncoder()
    assert enc.backend == "onnx"
    x = np.random.default_rng(1).normal(0, 0.1, (3, 24000)).astype(np.float32)
    e = enc.embed(x)
    assert e.shape == (3, 192) and np.isfinite(e).all()


def _real_speech_windows() -> tuple[np.ndarray, np.ndarray]:
    """Windows of real speech (three speakers) of varied lengths, zero-padded."""
    from engine.audio import VOICEPRINT_LIMITS, load_audio

    clips = [
        load_audio(DATA / name, limits=VOICEPRINT_LIMITS).samples[0]
        for name in ("pyannote_sample.wav", "arctic_slt_a0009.wav", "arctic_pysptk_a0007.wav")
    ]
    cuts = [(0, 0, 48000), (0, 80000, 30000), (0, 200000, 9000), (1, 4000, 40000),
            (1, 0, 1600), (2, 8000, 48000), (2, 16000, 20000)]
    width = max(n for _, _, n in cuts)
    windows = np.zeros((len(cuts), width), np.float32)
    lengths = np.empty(len(cuts), np.int64)
    for row, (clip, start, n) in enumerate(cuts):
        piece = clips[clip][start : start + n]
        windows[row, : len(piece)] = piece
        lengths[row] = len(piece)
    return windows, lengths


def test_onnx_encoder_is_exported_offline_and_matches_pytorch(
    no_network: None, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from engine import model_cache

    monkeypatch.setenv("VPSTUDIO_CACHE", str(tmp_path / "cache"))
    onnx_enc = enc_mod.EcapaEncoder()  # converts now, in the empty cache, with no network
    assert onnx_enc.backend == "onnx" and onnx_enc.model_id == enc_mod.ECAPA_MODEL_ID
    cached = enc_mod.onnx_cache_path(enc_mod.bundled_ecapa_folder())
    assert cached.parent == tmp_path / "cache" and model_cache.verified(cached)
    torch_enc = enc_mod.EcapaEncoder(backend="torch")
    windows, lengths = _real_speech_windows()
    got, ref = onnx_enc.embed(windows, lengths), torch_enc.embed(windows, lengths)
    assert float((got * ref).sum(axis=1).min()) >= 0.9999
    for i in (1, 4):  # a window alone (no padding) too
        one = windows[i : i + 1, : lengths[i]]
        assert float((onnx_enc.embed(one) * torch_enc.embed(one)).sum()) >= 0.9999

    data = bytearray(cached.read_bytes())
    data[len(data) // 2] ^= 0x40  # a flipped bit inside the weights: still a loadable file
    cached.write_bytes(bytes(data))
    exports: list[Path] = []

    def failing_export(kind: str, source: Path, dest: Path) -> None:
        exports.append(dest)
        raise ModelUnavailable("no export in this test")

    import engine.export_process

    monkeypatch.setattr(engine.export_process, "export", failing_export)
    fallback = enc_mod.EcapaEncoder()  # the altered file is not loaded: rebuilt (here: fails)
    assert len(exports) == 1 and fallback.backend == "torch"
    assert not cached.exists()
