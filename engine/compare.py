"""Voiceprint comparison: every voiceprint of one list against every one of another.

One matrix product of the stacked unit vectors gives the cosine matrix; the
calibrated 0-100 score comes from :func:`engine.calibration.cosine_to_score`.
Limits follow the Phonexia comparison endpoint: each list holds 1 to 50,000
voiceprints and ``len_a * len_b`` is at most 1,000,000 (both configurable).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.calibration import cosine_to_score
from engine.errors import InvalidVoiceprint, ModelMismatch, SizeLimitExceeded, ValidationError
from engine.voiceprint import Voiceprint

MAX_LIST = 50_000
MAX_PRODUCT = 1_000_000


@dataclass(frozen=True, eq=False)
class ComparisonResult:
    """Scores of ``list_a`` (rows) against ``list_b`` (columns).

    Attributes:
        cosine: read-only float32 ``(len_a, len_b)``, cosine similarity in [-1, 1].
        score: read-only float32 ``(len_a, len_b)``, calibrated score in [0, 100].
        model_id: the speaker model all voiceprints share.
    """

    cosine: np.ndarray
    score: np.ndarray
    model_id: str

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.cosine.shape[0]), int(self.cosine.shape[1]))


def _check_limit(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise ValidationError(f"{name} must be a positive integer.", location=name)
    return int(value)


def _length(items: Sequence[Voiceprint], name: str, max_list: int) -> int:
    """Check the list's type and length (before touching its items)."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ValidationError(f"{name} must be a list of voiceprints.", location=name)
    n = len(items)
    if n == 0:
        raise ValidationError(f"{name} is empty: give at least one voiceprint.", location=name)
    if n > max_list:
        raise SizeLimitExceeded(
            f"{name} holds {n} voiceprints; at most {max_list} are allowed.",
            location=name,
            context={"length": n, "max_length": max_list},
        )
    return n


def _check_types(items: Sequence[Voiceprint], name: str) -> None:
    for i, vp in enumerate(items):
        if not isinstance(vp, Voiceprint):
            raise ValidationError(
                f"{name}[{i}] is a {type(vp).__name__}, not a Voiceprint.", location=f"{name}[{i}]"
            )


def _check_models(items: Sequence[Voiceprint], name: str, model_id: str, dim: int) -> None:
    for i, vp in enumerate(items):
        if vp.model_id != model_id:
            raise ModelMismatch(
                f"{name}[{i}] was made by speaker model {vp.model_id!r} but list_a[0] by "
                f"{model_id!r}; voiceprints of different models cannot be compared "
                "(re-enroll with one model).",
                location=f"{name}[{i}]",
                context={"expected_model_id": model_id, "model_id": vp.model_id},
            )
        if vp.dim != dim:
            raise InvalidVoiceprint(
                f"{name}[{i}] has dimension {vp.dim}, list_a[0] has {dim}.",
                location=f"{name}[{i}]",
                detail="voiceprint.bad-dimension",
            )


def compare(
    list_a: Sequence[Voiceprint],
    list_b: Sequence[Voiceprint],
    *,
    max_list: int = MAX_LIST,
    max_product: int = MAX_PRODUCT,
) -> ComparisonResult:
    """Compare every voiceprint of ``list_a`` with every one of ``list_b``.

    Returns:
        :class:`ComparisonResult` with ``(len(list_a), len(list_b))`` matrices.

    Raises:
        ValidationError: a list is empty or holds a non-Voiceprint (``location``
            ``"list_a"`` / ``"list_b"`` / ``"list_b[3]"``), or a limit is not a positive int.
        SizeLimitExceeded: a list longer than ``max_list``, or ``len_a * len_b``
            above ``max_product`` (``context`` holds the figures).
        ModelMismatch: a voiceprint's model id differs from ``list_a[0]``'s
            (``location`` names its index).
        InvalidVoiceprint: same model id but a different dimension.
    """
    max_list = _check_limit(max_list, "max_list")
    max_product = _check_limit(max_product, "max_product")
    len_a = _length(list_a, "list_a", max_list)
    len_b = _length(list_b, "list_b", max_list)
    if len_a * len_b > max_product:
        raise SizeLimitExceeded(
            f"{len_a} x {len_b} = {len_a * len_b} comparisons; at most {max_product} are allowed.",
            location="list_b",
            context={
                "len_a": len_a,
                "len_b": len_b,
                "product": len_a * len_b,
                "max_product": max_product,
            },
        )
    _check_types(list_a, "list_a")
    _check_types(list_b, "list_b")
    model_id, dim = list_a[0].model_id, list_a[0].dim
    _check_models(list_a, "list_a", model_id, dim)
    _check_models(list_b, "list_b", model_id, dim)
    a = np.stack([vp.vector for vp in list_a])
    b = np.stack([vp.vector for vp in list_b])
    cosine = a @ b.T  # float32, one BLAS call
    np.clip(cosine, -1.0, 1.0, out=cosine)
    score = np.asarray(cosine_to_score(cosine), dtype=np.float32)
    if score is cosine or not score.flags.writeable:
        score = score.copy()
    np.clip(score, 0.0, 100.0, out=score)
    cosine.setflags(write=False)
    score.setflags(write=False)
    return ComparisonResult(cosine=cosine, score=score, model_id=model_id)


def score_against(vector_query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Cosine of one unit vector against many: library search.

    Args:
        vector_query: float ``(dim,)``, unit norm (a :attr:`Voiceprint.vector`).
        matrix: float32 ``(n, dim)`` of unit rows (trusted: its values are not
            re-checked, so scoring 100k rows stays one memory pass).

    Returns:
        float32 ``(n,)`` cosines in [-1, 1]; map them to 0-100 with
        :func:`engine.calibration.cosine_to_score`.

    Raises:
        ValidationError: wrong shapes, dims that differ, or a non-finite query.
    """
    q = np.asarray(vector_query)
    m = np.asarray(matrix)
    if q.ndim != 1 or q.shape[0] == 0:
        raise ValidationError(
            f"the query must be a (dim,) vector; got shape {q.shape}.", location="vector_query"
        )
    if m.ndim != 2 or m.shape[1] != q.shape[0]:
        raise ValidationError(
            f"the matrix must be (n, {q.shape[0]}); got shape {m.shape}.", location="matrix"
        )
    if q.dtype.kind != "f" or m.dtype.kind != "f":
        raise ValidationError("query and matrix must hold floats.", location="matrix")
    q32 = np.ascontiguousarray(q, dtype=np.float32)
    if not np.isfinite(q32).all():
        raise ValidationError("the query holds NaN or infinite values.", location="vector_query")
    out = m.astype(np.float32, copy=False) @ q32
    np.clip(out, -1.0, 1.0, out=out)
    return out
