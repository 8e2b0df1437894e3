"""The dev-set loader (bench/devset.py) on its small copy in tests/data/devset_mini."""

from __future__ import annotations

import numpy as np
import pytest

from bench.devset import SR, load


@pytest.fixture(scope="module")
def ds():
    return load("mini")


def test_manifest_files_and_provenance(ds):
    assert len(ds.enrolled) >= 5 and len(ds.strangers) >= 2
    assert ds.multi_session, "the mini set keeps speakers with two sessions"
    for f in ds.files.values():
        assert f.path.is_file() and f.path.suffix == ".ogg"
        assert f.source and f.licence
        assert all(0 <= a < b for a, b in f.utterances)
    for s in ds.enrolled:
        assert ds.speakers[s].enroll_session in ds.speakers[s].sessions
    for s in ds.strangers:
        assert ds.speakers[s].enroll_session is None


def test_enrollment_is_held_out(ds):
    for s in ds.enrolled:
        sess = ds.speakers[s].enroll_session
        all_u = ds.utterances(s, sess)
        held = ds.held_out(s, sess)
        enroll = ds.enrollment(s)
        k = len(all_u) - len(held)
        assert k >= 1 and held, s
        assert enroll.shape[0] >= ds.enroll_seconds * SR
        # the held-out utterances are exactly the ones after the enrollment ones
        for a, b in zip(all_u[k:], held, strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(KeyError):
        ds.enrollment(ds.strangers[0])


def _check_truth(conv):
    last = 0.0
    for a, b, _ in conv.truth:
        assert last <= a < b <= conv.duration
        last = b
    assert conv.samples.dtype == np.float32 and np.abs(conv.samples).max() <= 1.0


def test_conversations_deterministic_with_exact_truth(ds):
    a = ds.conversations(4, seed=3)
    b = ds.conversations(4, seed=3)
    c = ds.conversations(4, seed=4)
    for x, y in zip(a, b, strict=True):
        assert x.truth == y.truth
        np.testing.assert_array_equal(x.samples, y.samples)
        _check_truth(x)
        assert 2 <= len(x.speakers) <= 5
        # speech where the truth says so, (near) silence between turns
        inside = np.zeros(x.samples.shape[0], bool)
        for s, e, _ in x.truth:
            inside[int(s * SR) : int(e * SR)] = True
        assert np.abs(x.samples[~inside]).max() < 0.01
    assert [x.truth for x in a] != [x.truth for x in c]
    assert any(set(x.speakers) & set(ds.strangers) for x in a + c)


def test_cross_session_uses_other_sessions(ds):
    for conv in ds.cross_session(3, seed=0):
        _check_truth(conv)
        enrolled_here = [s for s in conv.speakers if s in ds.enrolled]
        assert enrolled_here and set(conv.speakers) & set(ds.strangers)
        for a, b, s in conv.truth:
            if s in ds.enrolled:
                used = {sess for x, y, sess in conv.sessions if a <= x and y <= b}
                assert ds.speakers[s].enroll_session not in used, (s, used)


def test_split_person_has_two_sessions_of_one_speaker(ds):
    for conv in ds.split_person(2, seed=0):
        _check_truth(conv)
        assert conv.focus in ds.multi_session and sum(t[2] == conv.focus for t in conv.truth) >= 4
        spans = {sess for a, b, s in conv.truth if s == conv.focus for x, y, sess in conv.sessions if a <= x and y <= b}
        assert len(spans) >= 2


def test_segments_labels(ds):
    segs, spk, ses = ds.segments(3.0, held_out=True)
    assert segs.shape[1] == 3 * SR and len(spk) == len(ses) == segs.shape[0]
    assert set(spk) <= set(ds.speakers)
