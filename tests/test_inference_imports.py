"""Once the ONNX caches exist, enrolling and identifying import no torch or speechbrain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import json, sys
from engine.cli import main
home, enroll_clip, conversation, out = sys.argv[1:5]
codes = [
    main(["--home", home, "enroll", "alice", enroll_clip, "--force"]),
    main(["--home", home, "identify", conversation]),
    main(["--home", home, "voiceprint", enroll_clip, "-o", out]),
]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchaudio", "speechbrain"))
print(json.dumps({"codes": codes, "heavy": heavy[:10]}))
"""


def test_enroll_identify_voiceprint_import_no_torch(tmp_path: Path) -> None:
    from engine.campp import CamppEncoder
    from engine.encoder import EcapaEncoder

    # build (or verify) the caches the subprocess will find: the session-wide cache folder
    assert EcapaEncoder().backend == "onnx" and CamppEncoder().backend == "onnx"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("VPSTUDIO_ENCODER_BACKEND", None)
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "home"),
         str(DATA / "arctic_pysptk_a0007.wav"), str(DATA / "pyannote_sample.wav"),
         str(tmp_path / "a.vp")],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 0, 0], proc.stderr[-2000:]
    assert result["heavy"] == []


def test_the_torch_path_still_imports_torch(tmp_path: Path) -> None:
    """The switch the start-up bench compares against really runs PyTorch."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), VPSTUDIO_ENCODER_BACKEND="torch")
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "home"),
         str(DATA / "arctic_pysptk_a0007.wav"), str(DATA / "pyannote_sample.wav"),
         str(tmp_path / "a.vp")],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0, 0, 0] and "speechbrain" in result["heavy"]
