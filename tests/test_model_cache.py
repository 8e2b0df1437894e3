"""Cached model files are verified by their recorded SHA-256 and rebuilt when altered."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import numpy as np
import pytest

from engine import model_cache


class _Builder:
    """A stand-in export: writes known bytes and counts how often it ran."""

    def __init__(self, payload: bytes = b"model-bytes" * 100) -> None:
        self.payload = payload
        self.calls = 0

    def __call__(self, dest: Path) -> None:
        self.calls += 1
        dest.write_bytes(self.payload)


def _read(path: Path) -> bytes:
    return path.read_bytes()


def test_build_records_the_digest_and_reuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    make = _Builder()
    assert model_cache.load(path, make, _read) == make.payload
    recorded = model_cache.digest_path(path).read_text().split()[0]
    assert recorded == hashlib.sha256(make.payload).hexdigest()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert model_cache.load(path, make, _read) == make.payload
    assert make.calls == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.sha256"]


def test_tampered_file_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    make = _Builder()
    model_cache.load(path, make, _read)
    tampered = bytearray(make.payload)
    tampered[7] ^= 1  # same size, one bit: a file that would still open
    path.write_bytes(bytes(tampered))
    assert not model_cache.verified(path)
    assert model_cache.load(path, make, _read) == make.payload
    assert make.calls == 2 and model_cache.verified(path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no-digest", "bad-digest"])
def test_damaged_cache_is_rebuilt(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "m.onnx"
    make = _Builder()
    model_cache.load(path, make, _read)
    if damage == "truncate":
        path.write_bytes(make.payload[:10])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 5)
    elif damage == "no-digest":
        model_cache.digest_path(path).unlink()
    else:
        model_cache.digest_path(path).write_bytes(b"\xff\xfe")
    assert model_cache.load(path, make, _read) == make.payload
    assert make.calls == 2 and model_cache.verified(path)


def test_a_verified_file_that_does_not_open_is_rebuilt_once(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    make = _Builder()
    opened: list[bytes] = []

    def open_model(p: Path) -> bytes:
        opened.append(p.read_bytes())
        if len(opened) == 1:
            raise RuntimeError("bad build")
        return opened[-1]

    assert model_cache.load(path, make, open_model) == make.payload
    assert make.calls == 2

    def never(p: Path) -> bytes:
        raise RuntimeError("never opens")

    with pytest.raises(RuntimeError, match="never opens"):
        model_cache.load(tmp_path / "n.onnx", make, never)
    assert not (tmp_path / "n.onnx").exists()


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def make(dest: Path) -> None:
        dest.write_bytes(b"half")
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError, match="export failed"):
        model_cache.load(tmp_path / "m.onnx", make, _read)
    assert list(tmp_path.iterdir()) == []


def _tiny_onnx(dest: Path) -> None:
    """A valid ONNX model with CAM++'s input and output names (but not CAM++)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["feats"], ["emb"], axes=[1], keepdims=0)],
        "impostor",
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["b", "t", 80])],
        [helper.make_tensor_value_info("emb", TensorProto.FLOAT, ["b", 80])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(dest))


@pytest.mark.slow
def test_campp_rebuilds_a_replaced_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from engine import campp

    monkeypatch.setenv("VPSTUDIO_CACHE", str(tmp_path / "cache"))
    first = campp.CamppEncoder()
    (cached,) = (tmp_path / "cache").glob("campplus-*.onnx")
    assert model_cache.verified(cached)
    _tiny_onnx(cached)  # opens in ONNX Runtime: only the digest tells it apart
    second = campp.CamppEncoder()
    assert second.backend == "onnx" and model_cache.verified(cached)
    assert cached.stat().st_size > 1_000_000
    x = np.random.default_rng(0).normal(0, 0.1, (2, 24000)).astype(np.float32)
    assert float((first.embed(x) * second.embed(x)).sum(axis=1).min()) > 0.9999
