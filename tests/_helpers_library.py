"""Test helpers for the voiceprint library: random unit voiceprints, no model needed."""

from __future__ import annotations

import numpy as np

from engine.voiceprint import Voiceprint

MODEL = "test-model@1"
DIM = 192


def unit(rng: np.random.Generator, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)


def vp(rng: np.random.Generator, model: str = MODEL, dim: int = DIM) -> Voiceprint:
    return Voiceprint(vector=unit(rng, dim), model_id=model)


def vp_of(vector: np.ndarray, model: str = MODEL) -> Voiceprint:
    v = np.asarray(vector, dtype=np.float64)
    return Voiceprint(vector=(v / np.linalg.norm(v)).astype(np.float32), model_id=model)
