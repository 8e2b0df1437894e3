"""The models load and run with the network blocked: no hub, no download, ever."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from engine import encoder as enc_mod
from engine import vad


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
