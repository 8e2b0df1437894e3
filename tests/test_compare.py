"""engine.compare: score matrices, limits and model checks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.compare import ComparisonResult, compare, score_against
from engine.errors import InvalidVoiceprint, ModelMismatch, SizeLimitExceeded, ValidationError
from engine.voiceprint import Voiceprint

MODEL = "ecapa-test"


def vps(n: int, seed: int = 0, dim: int = 16, model: str = MODEL) -> list[Voiceprint]:
    m = np.random.default_rng(seed).standard_normal((n, dim))
    return [Voiceprint(row, model) for row in m]


def test_matrix_values_and_shape() -> None:
    a, b = vps(3, 1), vps(5, 2)
    r = compare(a, b)
    assert isinstance(r, ComparisonResult) and r.model_id == MODEL
    assert r.cosine.shape == (3, 5) == r.score.shape == r.shape
    assert r.cosine.dtype == np.float32 and r.score.dtype == np.float32
    for i in range(3):
        for j in range(5):
            want = float(np.dot(a[i].vector.astype(np.float64), b[j].vector.astype(np.float64)))
            assert r.cosine[i, j] == pytest.approx(want, abs=1e-6)
    assert np.all((r.score >= 0) & (r.score <= 100))
    assert not r.cosine.flags.writeable and not r.score.flags.writeable


def test_score_is_monotonic_in_cosine_and_self_is_max() -> None:
    a = vps(20, 3)
    r = compare(a, a)
    assert np.allclose(np.diag(r.cosine), 1.0, atol=1e-6)
    order = np.argsort(r.cosine, axis=None, kind="stable")
    assert np.all(np.diff(r.score.ravel()[order]) >= -1e-4)
    assert np.all(r.score.max(axis=1) == np.diag(r.score))


def test_opposite_and_orthogonal() -> None:
    e0 = Voiceprint(np.array([1.0, 0.0]), MODEL)
    e1 = Voiceprint(np.array([0.0, 1.0]), MODEL)
    neg = Voiceprint(np.array([-1.0, 0.0]), MODEL)
    r = compare([e0], [e0, e1, neg])
    assert np.allclose(r.cosine, [[1.0, 0.0, -1.0]], atol=1e-7)
    assert r.score[0, 0] > r.score[0, 1] > r.score[0, 2]


@pytest.mark.parametrize("which", ["list_a", "list_b"])
def test_empty_list(which: str) -> None:
    a, b = (vps(0), vps(2)) if which == "list_a" else (vps(2), vps(0))
    with pytest.raises(ValidationError) as ei:
        compare(a, b)
    assert ei.value.location == which


def test_list_too_long_and_product_too_big() -> None:
    with pytest.raises(SizeLimitExceeded) as ei:
        compare(vps(4), vps(2), max_list=3)
    assert ei.value.location == "list_a" and ei.value.context == {"length": 4, "max_length": 3}
    with pytest.raises(SizeLimitExceeded) as ei:
        compare(vps(2), vps(4), max_list=3)
    assert ei.value.location == "list_b"
    with pytest.raises(SizeLimitExceeded) as ei:
        compare(vps(4), vps(5), max_product=19)
    assert ei.value.context["product"] == 20 and ei.value.context["max_product"] == 19
    assert compare(vps(4), vps(5), max_product=20).shape == (4, 5)
    with pytest.raises(ValidationError):
        compare(vps(1), vps(1), max_list=0)


def test_default_limits_refuse_without_touching_items() -> None:
    """50,001 items are refused from the length alone (items are not even Voiceprints)."""
    with pytest.raises(SizeLimitExceeded):
        compare([None] * 50_001, vps(1))  # type: ignore[list-item]
    with pytest.raises(SizeLimitExceeded) as ei:
        compare([None] * 1001, [None] * 1000)  # type: ignore[list-item]
    assert ei.value.context["product"] == 1_001_000


def test_model_mismatch_names_index() -> None:
    b = vps(3) + vps(1, model="other-model")
    with pytest.raises(ModelMismatch) as ei:
        compare(vps(2), b)
    assert ei.value.location == "list_b[3]" and ei.value.type == "voiceprint.model-mismatch"
    assert "other-model" in ei.value.message
    with pytest.raises(ModelMismatch) as ei:
        compare(vps(1) + vps(1, model="x"), vps(1))
    assert ei.value.location == "list_a[1]"


def test_dim_mismatch_and_bad_items() -> None:
    with pytest.raises(InvalidVoiceprint) as ei:
        compare(vps(2, dim=16), vps(2, dim=8))
    assert ei.value.location == "list_b[0]"
    with pytest.raises(ValidationError) as ei2:
        compare(vps(1), [np.ones(16)])  # type: ignore[list-item]
    assert ei2.value.location == "list_b[0]"
    with pytest.raises(ValidationError):
        compare("abc", vps(1))  # type: ignore[arg-type]


def test_score_against() -> None:
    lib = vps(50, 4)
    mat = np.stack([v.vector for v in lib])
    q = lib[17].vector
    s = score_against(q, mat)
    assert s.shape == (50,) and s.dtype == np.float32
    assert int(np.argmax(s)) == 17 and s[17] == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(s, compare([lib[17]], lib).cosine[0], atol=1e-6)
    with pytest.raises(ValidationError):
        score_against(q[:8], mat)
    with pytest.raises(ValidationError):
        score_against(np.full(16, np.nan), mat)
    with pytest.raises(ValidationError):
        score_against(q, mat[0])
    assert score_against(q, mat[:0]).shape == (0,)


def test_score_uses_calibration_when_present() -> None:
    """Scores are engine.calibration's mapping (or ``50 + 50 cos`` until it exists)."""
    r = compare(vps(4, 5), vps(6, 6))
    try:
        from engine.calibration import cosine_to_score
    except ImportError:
        want = np.clip(50.0 + 50.0 * r.cosine.astype(np.float64), 0.0, 100.0)
    else:
        want = np.asarray(cosine_to_score(r.cosine.astype(np.float64)), dtype=np.float64)
    assert np.allclose(r.score, want, atol=1e-3)
