"""The cohort of impostor voiceprints that score normalisation compares against.

Voiceprints (voiceprint-model embeddings) of people who are not in anyone's library,
shipped with the app under ``engine/data/`` (a ``.npy`` float array ``(M, d)``, or a
``.npz`` with ``voiceprints`` or ``vectors`` ``(M, d)`` and optionally ``model_id``) whose file name contains
``cohort``. :func:`default_cohort` returns the one made with the voiceprint model in
use; a caller (tests, benches) can inject its own array through
:class:`engine.pipeline.decision.Decisions`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from engine.pipeline.embedding import normalize_rows
from engine.segments import readonly

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def load_cohort(path: Path) -> tuple[np.ndarray, str]:
    """``(float32 (M, d) unit-norm vectors, model id or "")`` of a cohort file."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            key = "voiceprints" if "voiceprints" in z.files else "vectors"
            vec = np.asarray(z[key], dtype=np.float32)
            model = str(z["model_id"]) if "model_id" in z.files else ""
    else:
        vec, model = np.asarray(np.load(path, allow_pickle=False), dtype=np.float32), ""
    if vec.ndim != 2:
        raise ValueError(f"{path.name}: a cohort is a (M, d) array")
    return readonly(normalize_rows(vec)), model


@functools.lru_cache(maxsize=4)
def default_cohort(model_id: str, dim: int) -> np.ndarray:
    """The shipped cohort for ``model_id`` (``dim``-d); an empty ``(0, dim)`` array when
    none ships."""
    for path in sorted(DATA_DIR.glob("*cohort*")) if DATA_DIR.is_dir() else []:
        if path.suffix not in (".npy", ".npz"):
            continue
        try:
            vec, model = load_cohort(path)
        except (OSError, ValueError, KeyError):
            continue
        if vec.shape[1] == dim and (not model or model == model_id):
            return vec
    return readonly(np.zeros((0, max(dim, 1)), dtype=np.float32))
