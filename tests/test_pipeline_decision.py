"""The decision layer (engine.pipeline.decision) on synthetic embeddings: each rule on
and off. Scores use the real calibration (engine.calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.calibration import DEFAULT_THRESHOLD, cosine_to_score
from engine.pipeline import assignment, decision
from engine.pipeline.decision import Decisions, decide
from engine.segmentation import CHUNK_FRAMES, FRAME_STEP_S

D = 64


def _unit(v):
    v = np.atleast_2d(np.asarray(v, dtype=np.float64))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def space():
    """Voiceprints of three people, an impostor cohort, and noisy views of them."""
    rng = np.random.default_rng(5)
    people = _unit(rng.normal(size=(3, D)))
    cohort = _unit(rng.normal(size=(40, D)))

    def view(p, noise=0.8):
        return _unit(p + noise * rng.normal(size=D) / np.sqrt(D))[0]

    return people, cohort, view, rng


def _run(cents, vps, cohort, overlap=None, **rules):
    k = cents.shape[0]
    return decide(
        cents, vps, cohort=cohort, to_score=cosine_to_score, threshold=DEFAULT_THRESHOLD,
        overlap=np.zeros((k, k), bool) if overlap is None else overlap, rules=Decisions(**rules),
    )


def test_disjoint_clusters_share_a_name_and_merge(space):
    people, cohort, view, _ = space
    cents = np.stack([view(people[0]), view(people[1]), view(people[0])])
    d = _run(cents, people, cohort)
    assert d.new_index.tolist() == [0, 1, 0]
    assert d.assignment.assigned.tolist() == [0, 1]
    assert d.cents.shape == (2, D)
    assert d.why[0].reason == "merged" and d.why[1].reason == "named"
    # rule off: one-to-one, the second half of person 0 stays unknown
    off = _run(cents, people, cohort, merge_disjoint=False)
    assert off.new_index.tolist() == [0, 1, 2]
    assert sorted(off.assignment.assigned.tolist()) == [-1, 0, 1]
    assert off.why[int(np.flatnonzero(off.assignment.assigned < 0)[0])].reason == "taken"


def test_overlapping_clusters_compete(space):
    people, cohort, view, _ = space
    cents = np.stack([view(people[0]), view(people[0], 1.2)])
    ov = np.array([[False, True], [True, False]])
    d = _run(cents, people, cohort, overlap=ov)
    assert d.new_index.tolist() == [0, 1]
    assert d.assignment.assigned.tolist() == [0, -1]
    assert d.why[1].reason == "taken"


def test_margin_rule_refuses_a_cluster_between_two_people(space):
    people, cohort, view, _ = space
    between = _unit(people[0] + people[1])  # as close to both
    cents = np.stack([between[0], view(people[2])])
    d = _run(cents, people, cohort, normalisation="none", margin=8.0)
    s = d.assignment.scores[0]
    assert s[0] >= DEFAULT_THRESHOLD and s[1] >= DEFAULT_THRESHOLD
    assert d.assignment.assigned.tolist() == [-1, 2]
    assert d.why[0].reason == "not-distinct" and d.why[0].margin < 8.0
    off = _run(cents, people, cohort, normalisation="none", margin=0.0)
    assert off.assignment.assigned[0] in (0, 1)


def test_asnorm_refuses_a_stranger_who_is_merely_nearest(space):
    people, cohort, view, rng = space
    # a stranger close to person 0 AND to much of the cohort: a generic-sounding voice
    hub = _unit(cohort[:20].sum(axis=0))[0]
    stranger = _unit(0.75 * people[0] + 1.0 * hub)[0]
    enrolled = view(people[1])
    cents = np.stack([stranger, enrolled])
    assert cosine_to_score(float(stranger @ people[0])) >= DEFAULT_THRESHOLD
    norm = decision.as_norm(cents, people, cohort)
    assert norm is not None and norm.shape == (2, 3)
    assert norm[1, 1] > norm[0, 0]
    d = _run(cents, people, cohort, margin=0.0, norm_threshold=float(norm[0, 0]) + 0.1)
    assert d.assignment.assigned.tolist() == [-1, 1]
    assert d.why[0].reason == "not-normalised"
    assert d.why[0].candidates[0].norm == pytest.approx(float(norm[0, 0]), abs=0.01)
    off = _run(cents, people, cohort, margin=0.0, normalisation="none")
    assert off.assignment.assigned.tolist() == [0, 1]


def test_asnorm_needs_a_cohort(space):
    people, _, view, _ = space
    assert decision.as_norm(np.stack([view(people[0])]), people, np.zeros((0, D), np.float32)) is None


def test_legacy_is_the_one_to_one_assignment(space):
    people, cohort, view, _ = space
    cents = np.stack([view(people[0]), view(people[1]), view(people[0])])
    d = _run(cents, people, cohort, legacy=True)
    a = assignment.assign_voiceprints(cents, people, to_score=cosine_to_score,
                                      threshold=DEFAULT_THRESHOLD)
    np.testing.assert_array_equal(d.assignment.assigned, a.assigned)
    np.testing.assert_array_equal(d.assignment.ref, a.ref)
    np.testing.assert_array_equal(d.assignment.scores, a.scores)
    assert d.new_index.tolist() == [0, 1, 2]


def test_explanations_list_the_top_three(space):
    people, cohort, view, _ = space
    d = _run(np.stack([view(people[2])]), people, cohort)
    w = d.why[0]
    assert [c.voiceprint for c in w.candidates][0] == 2 and len(w.candidates) == 3
    scores = [c.score for c in w.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(c.norm is not None for c in w.candidates)
    assert w.margin == pytest.approx(scores[0] - max(scores[1], float(cosine_to_score(
        float((d.cents[0] @ cohort.T).max())))), abs=0.02)
    none = _run(np.stack([view(people[2])]), np.zeros((0, D), np.float32), cohort)
    assert none.why[0].reason == "no-voiceprints" and none.assignment.assigned.tolist() == [-1]


def test_cluster_activity_and_overlap():
    rm = np.zeros((CHUNK_FRAMES, 3), np.uint8)
    rm[0:300, 0] = 1  # run 0 (cluster 0)
    rm[200:300, 1] = 2  # run 1 (cluster 1), overlapping run 0 for 100 frames
    rm[400:500, 2] = 3  # run 2 (cluster 2), alone
    co, act = decision.cluster_activity([rm], [np.array([0, 1, 2])], 3)
    assert co[0, 1] == pytest.approx(100 * FRAME_STEP_S) and co[1, 0] == co[0, 1]
    assert co[0, 2] == 0 and co[1, 2] == 0
    np.testing.assert_allclose(act, np.array([300, 100, 100]) * FRAME_STEP_S)
    ov = decision.overlapping(co, act)
    assert ov[0, 1] and not ov[0, 2]
    # the same voice doubled for a moment is not "speaking at the same time"
    rm2 = rm.copy()
    rm2[200:300, 1] = 0
    rm2[290:300, 1] = 2
    co2, act2 = decision.cluster_activity([rm2], [np.array([0, 1, 2])], 3)
    assert not decision.overlapping(co2, act2)[0, 1]


def test_split_mixed_takes_the_stranger_out(space):
    people, cohort, view, rng = space
    stranger = _unit(rng.normal(size=D))[0]
    mixed_parts = np.stack([view(people[0], 0.5), stranger])
    pure_parts = np.stack([view(people[1], 0.5), view(people[1], 0.5)])
    cents = _unit(np.stack([mixed_parts.sum(0), pure_parts.sum(0)]))
    parts = np.stack([mixed_parts, pure_parts])
    labels = np.array([0, 0, 0, 1, 1, -1])
    part_of_row = np.array([0, 1, 1, 0, 1, -1])
    s = decision.split_mixed(cents, parts, part_of_row, labels, people,
                             to_score=cosine_to_score, threshold=DEFAULT_THRESHOLD)
    assert s.split_off.tolist() == [0]
    assert s.labels.tolist() == [0, 2, 2, 1, 1, -1]
    np.testing.assert_allclose(s.cents[0], mixed_parts[0])
    np.testing.assert_allclose(s.cents[2], stranger)
    d = decision.mark_split(_run(s.cents, people, cohort), [2])
    assert d.assignment.assigned.tolist() == [0, 1, -1] and d.why[2].reason == "split"
    # not split without parts, nor when both halves are the person
    none = decision.split_mixed(cents, np.zeros_like(parts), part_of_row, labels, people,
                                to_score=cosine_to_score, threshold=DEFAULT_THRESHOLD)
    assert none.split_off.size == 0 and none.labels.tolist() == labels.tolist()
