"""The one-time ONNX exports run in a child process: the app never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import export_process
from engine.errors import ModelUnavailable

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys
import numpy as np
from engine import model_cache
from engine.campp import CamppEncoder
from engine.encoder import EcapaEncoder, bundled_ecapa_folder, onnx_cache_path
e = EcapaEncoder()
c = CamppEncoder()
x = np.random.default_rng(0).normal(0, 0.1, (2, 24000)).astype(np.float32)
print(json.dumps({
    "backends": [e.backend, c.backend],
    "ecapa_verified": model_cache.verified(onnx_cache_path(bundled_ecapa_folder())),
    "torch_here": "torch" in sys.modules, "speechbrain_here": "speechbrain" in sys.modules,
    "dims": [list(e.embed(x).shape), list(c.embed(x).shape)],
}))
"""


def _run_probe(cache: Path, **extra_env: str) -> dict[str, object]:
    env = {**os.environ, "VPSTUDIO_CACHE": str(cache), "PYTHONPATH": str(ROOT), **extra_env}
    env.pop(export_process.IN_PROCESS_ENV, None)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=900,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_fresh_cache_is_built_in_a_child_and_the_app_never_imports_torch(tmp_path: Path) -> None:
    got = _run_probe(tmp_path / "cache")
    assert got["backends"] == ["onnx", "onnx"]
    assert got["ecapa_verified"] is True
    assert got["torch_here"] is False and got["speechbrain_here"] is False
    assert got["dims"] == [[2, 192], [2, 192]]
    assert len(list((tmp_path / "cache").glob("ecapa-*.onnx"))) == 1
    assert len(list((tmp_path / "cache").glob("campplus-*.onnx"))) == 1


def test_a_failed_export_is_a_typed_error_with_the_childs_reason(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as err:
        export_process.export("ecapa", tmp_path / "no-such-model", tmp_path / "out.onnx")
    assert "ecapa model could not be converted" in err.value.message
    assert "no-such-model" in err.value.message or "not" in err.value.message
    assert not (tmp_path / "out.onnx").exists()


def test_the_child_refuses_every_network_connection() -> None:
    code = (
        "import socket\nfrom engine import export_process as e\ne._block_network()\n"
        "import urllib.request\n"
        "for f in (lambda: socket.create_connection(('127.0.0.1', 9)),\n"
        "          lambda: socket.socket().connect(('93.184.216.34', 80)),\n"
        "          lambda: urllib.request.urlopen('http://example.org', timeout=1)):\n"
        "    try:\n        f()\n    except OSError as exc:\n        print('refused', exc)\n"
        "    else:\n        print('CONNECTED')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert out.count("refused") == 3 and "CONNECTED" not in out


def test_bad_arguments_and_kinds_are_refused(tmp_path: Path) -> None:
    assert export_process.main(["whisper", "a", "b"]) == 2
    assert export_process.main([]) == 2
    with pytest.raises(ValueError):
        export_process.export("whisper", tmp_path, tmp_path / "x.onnx")
