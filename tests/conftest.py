"""Shared fixtures. Every test gets its own data home: no test touches the real one."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep torch/onnxruntime from oversubscribing the CI machine's two cores.
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Rebuildable model files (the CAM++ ONNX export) go to one folder per test run, shared
# by the subprocesses the tests start, never to the user's cache.
if "VPSTUDIO_CACHE" not in os.environ:
    os.environ["VPSTUDIO_CACHE"] = tempfile.mkdtemp(prefix="vpstudio-cache-")
    atexit.register(shutil.rmtree, os.environ["VPSTUDIO_CACHE"], True)

# The telemetry switches (engine/offline.py) before any test module can import onnxruntime.
import engine  # noqa: E402, F401

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def vp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``VPSTUDIO_HOME`` at a fresh folder under ``tmp_path``."""
    home = tmp_path / "vphome"
    monkeypatch.setenv("VPSTUDIO_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
