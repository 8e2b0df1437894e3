"""The decision layer in identify() on real speech (tests/data): shared names for a person
split in two clusters, the AS-Norm cohort, and the explanations in the result."""

from __future__ import annotations

import numpy as np
import pytest

from engine.audio import Audio
from engine.identify import identify
from engine.pipeline import cohort as cohort_mod
from engine.pipeline.decision import LEGACY_DECISIONS, Decisions
from engine.segments import is_unknown
from engine.voiceprint import Voiceprint
from tests import _helpers_identify as H

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder():
    from engine.encoder import default_encoder

    return default_encoder()


@pytest.fixture(scope="module")
def library(encoder):
    return {
        name: Voiceprint(encoder.embed(H.clip(spk, "enroll")[None])[0], encoder.model_id)
        for name, spk in (("alice", "A"), ("bob", "B"))
    }


@pytest.fixture(scope="module")
def calib_cohort(encoder) -> np.ndarray:
    """Impostor voiceprints from the calib clips (none of them speaks in the tests here)."""
    rows = []
    for enr, test in H.calib_speakers().values():
        for x in (enr, test):
            rows.append(encoder.embed(x[None])[0])
    return np.stack(rows).astype(np.float32)


@pytest.fixture(scope="module")
def conv():
    return H.standard_conversation()


def _labels_of(turns, truth):
    out = []
    for s, e, _ in truth:
        mid = 0.5 * (s + e)
        out.append(next((t.speaker for t in turns if t.start <= mid <= t.end), None))
    return out


def test_a_person_split_in_two_clusters_gets_one_name(encoder, library, conv):
    """Forcing four clusters on three voices splits one person; the halves never speak
    at once, so both take the name and are merged (the first pipeline left one UNKNOWN)."""
    audio = Audio(conv.samples[None])
    old = identify(audio, library, encoder=encoder, min_speakers=4, decisions=LEGACY_DECISIONS)
    new = identify(audio, library, encoder=encoder, min_speakers=4)
    want = [{"A": "alice", "B": "bob"}.get(s) for _, _, s in conv.truth]
    got_old, got_new = _labels_of(old.turns, conv.truth), _labels_of(new.turns, conv.truth)
    assert len({t.cluster for t in old.turns}) == 4
    assert sum(1 for g, w in zip(got_old, want, strict=True) if w and g != w) >= 1
    assert all(g == w for g, w in zip(got_new, want, strict=True) if w)
    assert is_unknown(got_new[3])  # C, never enrolled
    assert new.num_speakers == 3
    assert any(c.reason == "merged" for c in new.clusters)


def test_cohort_keeps_an_unenrolled_voice_unknown_and_explains(encoder, library, conv,
                                                                calib_cohort):
    """Only alice enrolled: bob and C are strangers; with the calib cohort the result says
    why each cluster got its name, with raw and normalised scores."""
    lib = {"alice": library["alice"]}
    r = identify(Audio(conv.samples[None]), lib, encoder=encoder,
                 decisions=Decisions(cohort=calib_cohort))
    got = _labels_of(r.turns, conv.truth)
    assert got[0] == "alice" and got[2] == "alice"
    assert all(is_unknown(g) for g in (got[1], got[3], got[4]))
    alice = next(c for c in r.clusters if c.speaker == "alice")
    assert alice.reason == "named" and alice.candidates[0][0] == "alice"
    assert alice.candidates[0][2] is not None and alice.candidates[0][2] > 2.5
    assert alice.margin is not None and alice.margin > 8
    for c in r.clusters:
        if c.speaker != "alice":
            assert c.reason in ("below-threshold", "not-distinct", "not-normalised")


def test_shipped_cohort_is_found(tmp_path, monkeypatch):
    vec = np.random.default_rng(0).normal(size=(12, 8)).astype(np.float32)
    np.savez(tmp_path / "cohort_test.npz", voiceprints=vec)
    monkeypatch.setattr(cohort_mod, "DATA_DIR", tmp_path)
    cohort_mod.default_cohort.cache_clear()
    try:
        got = cohort_mod.default_cohort("m", 8)
        assert got.shape == (12, 8) and not got.flags.writeable
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        assert cohort_mod.default_cohort("m", 16).shape == (0, 16)  # other dimension
    finally:
        cohort_mod.default_cohort.cache_clear()
