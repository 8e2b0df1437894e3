"""Test helpers for operating-system failures made real: a small tmpfs that can be filled
or made read-only, and running the command line as an unprivileged user."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@contextlib.contextmanager
def small_disk(size: str = "2m") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` (root only; skips where mounting is not permitted)."""
    if not is_root() or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    where = Path(tempfile.mkdtemp(prefix="vp-disk-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
    )
    if done.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
        with contextlib.suppress(OSError):
            where.rmdir()


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; returns it (unlink to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        block = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                f.write(block)
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0")
    return filler


def world_dir() -> Path:
    """A folder that another user can enter (pytest's tmp_path is 0700)."""
    where = Path(tempfile.mkdtemp(prefix="vp-world-"))
    where.chmod(0o755)
    return where


def cli_as(uid: int | None, *argv: str, home: Path) -> tuple[int, dict]:
    """Run ``vpstudio --json ARGV`` in a subprocess (as ``uid`` when given); the JSON out."""
    env = dict(os.environ, VPSTUDIO_HOME=str(home), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    prefix: list[str] = []
    if uid is not None:
        # setpriv (util-linux), not subprocess's user=: on this sandbox's kernel only
        # setpriv's way of dropping root lets the child exec the interpreter
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to run as another user")
        prefix = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import engine.cli as c; print(c.__file__)"],
            cwd="/", env=env, capture_output=True, text=True, timeout=120,
        )
        # e.g. a checkout under /root, which nobody cannot enter: Python would then
        # import another installed copy of the engine, or none
        if probe.returncode != 0 or not probe.stdout.strip().startswith(str(ROOT)):
            pytest.skip(f"user {uid} cannot run this checkout ({probe.stdout.strip()}"
                        f"{probe.stderr[-300:]})")
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "engine.cli", "--json", *argv],
        cwd="/", env=env, capture_output=True, text=True, timeout=120,
    )
    return done.returncode, json.loads(done.stdout)
