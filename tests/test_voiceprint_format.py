"""engine.voiceprint: the Voiceprint type, its binary blob and base64 form."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
import pytest

from engine.errors import InvalidVoiceprint, ModelMismatch, ValidationError
from engine.voiceprint import MAGIC, MAX_DIM, Voiceprint, mean_voiceprint

MODEL = "speechbrain/spkrec-ecapa-voxceleb@test"


def vp(seed: int = 0, dim: int = 192, model: str = MODEL) -> Voiceprint:
    return Voiceprint(np.random.default_rng(seed).standard_normal(dim), model)


def blob(
    model: bytes = MODEL.encode(),
    vec: np.ndarray | None = None,
    *,
    magic: bytes = MAGIC,
    version: int = 1,
    dim: int | None = None,
    crc: int | None = None,
) -> bytes:
    """Build a blob by hand (independently of to_bytes) so each field can be broken."""
    v = np.ones(4, dtype="<f4") / 2 if vec is None else np.asarray(vec, dtype="<f4")
    body = (
        struct.pack("<4sHH", magic, version, len(model))
        + model
        + struct.pack("<I", len(v) if dim is None else dim)
        + v.tobytes()
    )
    return body + struct.pack("<I", zlib.crc32(body) if crc is None else crc)


def test_constructor_normalises_and_freezes() -> None:
    v = Voiceprint(np.array([3.0, 4.0]), "m")
    assert v.vector.dtype == np.float32 and v.vector.shape == (2,)
    assert np.allclose(v.vector, [0.6, 0.8]) and v.dim == 2
    assert np.linalg.norm(v.vector.astype(np.float64)) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError):
        v.vector[0] = 1.0
    src = np.array([0.6, 0.8], dtype=np.float32)
    Voiceprint(src, "m")
    assert src.flags.writeable  # the caller's array is copied, not frozen


@pytest.mark.parametrize(
    "vector,model,detail",
    [
        (np.zeros(5), "m", "voiceprint.zero-norm"),
        (np.array([1.0, np.nan]), "m", "voiceprint.non-finite"),
        (np.array([1.0, np.inf]), "m", "voiceprint.non-finite"),
        (np.zeros(0), "m", "voiceprint.bad-dimension"),
        (np.ones(MAX_DIM + 1), "m", "voiceprint.bad-dimension"),
        (np.ones((2, 2)), "m", "voiceprint.bad-dimension"),
        (np.array(["a", "b"]), "m", "voiceprint.bad-dimension"),
        (np.ones(3), "", "voiceprint.bad-model-id"),
        (np.ones(3), "x" * 2000, "voiceprint.bad-model-id"),
        (np.ones(3), "\ud800", "voiceprint.bad-model-id"),
    ],
)
def test_constructor_rejects(vector: np.ndarray, model: str, detail: str) -> None:
    with pytest.raises(InvalidVoiceprint) as ei:
        Voiceprint(vector, model)
    assert ei.value.detail == detail and ei.value.type == "voiceprint.invalid"


@pytest.mark.parametrize("dim", [1, 192, 512, MAX_DIM])
def test_bytes_round_trip_is_exact(dim: int) -> None:
    a = vp(dim, dim, "ecapa-ü/1")
    b = a.to_bytes()
    assert b[:4] == b"VPRT" and len(b) == 4 + 2 + 2 + len("ecapa-ü/1".encode()) + 4 + 4 * dim + 4
    c = Voiceprint.from_bytes(b)
    assert c == a and c.model_id == "ecapa-ü/1"
    assert np.array_equal(c.vector, a.vector)  # bit for bit
    assert c.to_bytes() == b
    assert Voiceprint.from_bytes(bytearray(b)) == a and Voiceprint.from_bytes(memoryview(b)) == a
    assert hash(c) == hash(a)


def test_layout_matches_spec() -> None:
    a = Voiceprint(np.array([0.6, 0.8], dtype=np.float32), "m1")
    assert a.to_bytes() == blob(b"m1", np.array([0.6, 0.8]))


def test_base64_round_trip() -> None:
    a = vp(3)
    s = a.to_base64()
    assert isinstance(s, str) and base64.b64decode(s) == a.to_bytes()
    assert Voiceprint.from_base64(s) == a
    assert Voiceprint.from_base64("  " + s + "\n") == a
    assert Voiceprint.from_base64(s.encode()) == a


@pytest.mark.parametrize(
    "data,detail",
    [
        (b"", "voiceprint.truncated"),
        (b"VPR", "voiceprint.truncated"),
        (blob(magic=b"VPRX"), "voiceprint.bad-magic"),
        (blob(version=2), "voiceprint.unsupported-version"),
        (blob(version=0), "voiceprint.unsupported-version"),
        (blob(model=b""), "voiceprint.bad-model-id"),
        (blob(model=b"\xff\xfe"), "voiceprint.bad-model-id"),
        (blob(dim=0, vec=np.zeros(0)), "voiceprint.bad-dimension"),
        (blob(dim=MAX_DIM + 1), "voiceprint.bad-dimension"),
        (blob(dim=5), "voiceprint.truncated"),
        (blob(dim=3), "voiceprint.bad-length"),
        (blob() + b"\x00", "voiceprint.bad-length"),
        (blob()[:-1], "voiceprint.truncated"),
        (blob(crc=1234), "voiceprint.bad-checksum"),
        (blob(vec=np.array([1.0, np.nan])), "voiceprint.non-finite"),
        (blob(vec=np.array([np.inf, 0.0])), "voiceprint.non-finite"),
        (blob(vec=np.zeros(3)), "voiceprint.zero-norm"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage garbage", "voiceprint.bad-magic"),
    ],
)
def test_from_bytes_rejects(data: bytes, detail: str) -> None:
    with pytest.raises(InvalidVoiceprint) as ei:
        Voiceprint.from_bytes(data)
    assert ei.value.detail == detail, ei.value.message
    assert ei.value.message


def test_every_flipped_bit_is_caught() -> None:
    """Flipping any single bit of a valid blob is never silently accepted."""
    b = bytearray(vp(7, dim=8).to_bytes())
    for i in range(len(b) * 8):
        c = bytearray(b)
        c[i // 8] ^= 1 << (i % 8)
        with pytest.raises(InvalidVoiceprint):
            Voiceprint.from_bytes(bytes(c))


def test_not_normalised_blob_is_normalised() -> None:
    v = Voiceprint.from_bytes(blob(vec=np.array([3.0, 4.0])))
    assert np.allclose(v.vector, [0.6, 0.8])


@pytest.mark.parametrize("text", ["not base64!!", "QUJD=X", "A" * 100_000, "", "VlBSVA=="])
def test_from_base64_rejects(text: str) -> None:
    with pytest.raises(InvalidVoiceprint):
        Voiceprint.from_base64(text)


def test_wrong_types_are_typed_errors() -> None:
    with pytest.raises(InvalidVoiceprint):
        Voiceprint.from_bytes("VPRT")  # type: ignore[arg-type]
    with pytest.raises(InvalidVoiceprint):
        Voiceprint.from_base64(123)  # type: ignore[arg-type]


def test_mean_voiceprint() -> None:
    a = Voiceprint(np.array([1.0, 0.0]), "m")
    b = Voiceprint(np.array([0.0, 1.0]), "m")
    m = mean_voiceprint([a, b])
    assert np.allclose(m.vector, [2**-0.5, 2**-0.5]) and m.model_id == "m"
    assert mean_voiceprint([a]) == a
    with pytest.raises(ValidationError):
        mean_voiceprint([])
    with pytest.raises(ValidationError):
        mean_voiceprint([a, "b"])  # type: ignore[list-item]
    with pytest.raises(ModelMismatch) as ei:
        mean_voiceprint([a, b, Voiceprint(np.array([1.0, 0.0]), "other")])
    assert ei.value.location == "voiceprints[2]"
    with pytest.raises(InvalidVoiceprint):
        mean_voiceprint([a, Voiceprint(np.array([-1.0, 0.0]), "m")])
    with pytest.raises(InvalidVoiceprint):
        mean_voiceprint([a, Voiceprint(np.ones(3), "m")])
