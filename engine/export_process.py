"""The one-time ONNX exports (ECAPA, CAM++), run in a child process.

Why a child: the export needs torch (and speechbrain for ECAPA), which the app process
otherwise never imports. Importing torch on a worker thread while other threads of the
window run ONNX Runtime and the garbage collector has aborted the whole process
("Fatal Python error: Aborted" during a warm-up that converted ECAPA while an enrollment
ran). In a child, the app keeps neither torch's ~1 GB nor its threads, and a crash of
the exporter is a typed error, not a lost window.

The child blocks every socket before it imports anything heavy: the export provably
needs no network. A frozen desktop build (no ``python -m``) exports in-process.

    python -m engine.export_process ecapa  MODEL_FOLDER  DEST.onnx
    python -m engine.export_process campp  WEIGHTS_FILE  DEST.onnx
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

from engine.errors import ModelUnavailable

KINDS = ("ecapa", "campp")
TIMEOUT_S = 1800.0
"""Longest an export may take (about 10 s on 2 cores; a loaded laptop is far slower)."""
IN_PROCESS_ENV = "VPSTUDIO_EXPORT_IN_PROCESS"
"""Set to ``1`` to export in the calling process (what a frozen build always does)."""


def export(kind: str, source: Path, dest: Path) -> None:
    """Write the ONNX export of model ``kind`` read from ``source`` to ``dest``.

    Args:
        kind: ``"ecapa"`` (``source``: the SpeechBrain model folder) or ``"campp"``
            (``source``: the CAM++ weights file).
        source: where the PyTorch weights are.
        dest: the ONNX file to write (the caller renames it into the cache).

    Raises:
        ModelUnavailable: the export failed (the child's last error line is the message).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}")
    if getattr(sys, "frozen", False) or os.environ.get(IN_PROCESS_ENV) == "1":
        _export_here(kind, source, dest)
        return
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "engine.export_process", kind, str(source), str(dest)]
    try:
        proc = subprocess.run(
            cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelUnavailable(
            f"The {kind} model could not be converted: {exc}", location=str(source)
        ) from exc
    if proc.returncode != 0 or not dest.is_file():
        lines = [ln for ln in (proc.stderr or "").splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise ModelUnavailable(
            f"The {kind} model could not be converted: {why}", location=str(source)
        )


def _export_here(kind: str, source: Path, dest: Path) -> None:
    if kind == "ecapa":
        from engine.ecapa_export import export as export_ecapa
        from engine.encoder import _load_speechbrain

        export_ecapa(_load_speechbrain(source, None), dest)
    else:
        from engine.campp import _export, _torch_net

        _export(_torch_net(source), dest)


def _no_network(*_: Any, **__: Any) -> NoReturn:
    raise OSError("the model export makes no network connection")


class _NoSocket(socket.socket):
    def connect(self, *_: Any) -> NoReturn:  # type: ignore[override]
        _no_network()

    def connect_ex(self, *_: Any) -> NoReturn:  # type: ignore[override]
        _no_network()


def _block_network() -> None:
    socket.socket = _NoSocket  # type: ignore[misc]
    socket.create_connection = _no_network  # type: ignore[assignment]
    socket.getaddrinfo = _no_network  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    """The child's entry point: ``KIND SOURCE DEST``; exit 0 when ``DEST`` is written."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in KINDS:
        print("usage: python -m engine.export_process {ecapa|campp} SOURCE DEST", file=sys.stderr)
        return 2
    _block_network()
    try:
        _export_here(args[0], Path(args[1]), Path(args[2]))
    except Exception as exc:  # reported to the parent as its error message
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
