"""Model weights are located inside installed packages, with typed errors when absent."""

from __future__ import annotations

import pytest

from engine.errors import ModelUnavailable
from engine.weights import packaged_path


def test_finds_a_file_inside_an_installed_package() -> None:
    p = packaged_path("engine", "weights.py", model="x", requirement="y")
    assert p.is_file() and p.parent.name == "engine"


def test_package_not_installed() -> None:
    with pytest.raises(ModelUnavailable) as err:
        packaged_path("no_such_package_vp", "m.onnx", model="test model", requirement="nope==1")
    assert err.value.type == "model.unavailable"
    assert "test model" in err.value.message and "'nope==1'" in err.value.message
    assert err.value.location == "no_such_package_vp"


def test_package_without_the_file() -> None:
    with pytest.raises(ModelUnavailable) as err:
        packaged_path("engine", "data/missing.onnx", model="test model", requirement="engine")
    assert "does not hold engine/data/missing.onnx" in err.value.message
    assert (err.value.location or "").endswith("missing.onnx")
