"""engine.decide: names re-decided from a result's scores, without a re-run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.decide import decide, decide_clusters, score_clusters
from engine.identify import ClusterInfo, IdentificationResult
from engine.segments import Turn
from engine.voiceprint import Voiceprint


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def _result() -> IdentificationResult:
    clusters = (
        ClusterInfo("SPEAKER_00", "1", 80.0, 3.0, _unit([1, 0, 0]), (("1", 80.0), ("2", 30.0))),
        ClusterInfo("SPEAKER_01", "UNKNOWN_00", 58.0, 2.0, _unit([0, 1, 0]),
                    (("1", 58.0), ("2", 40.0))),
        ClusterInfo("SPEAKER_02", "2", 65.0, 1.0, _unit([0, 0, 1]), (("2", 65.0),)),
    )
    turns = (Turn(0.0, 1.0, "1", 80.0, "SPEAKER_00"), Turn(1.0, 2.0, "UNKNOWN_00", 58.0, "SPEAKER_01"),
             Turn(2.0, 3.0, "2", 65.0, "SPEAKER_02"), Turn(3.0, 4.0, "1", 80.0, "SPEAKER_00"))
    return IdentificationResult(turns=turns, confidence=None, speaker_curves=None, speaker_ids=(),
                                clusters=clusters, duration=4.0, model_id="m@1", num_speakers=3)


def test_same_threshold_gives_the_same_names() -> None:
    r = _result()
    assert decide(r, 50.0).turns == r.turns


def test_higher_threshold_turns_a_name_unknown_and_renumbers_unknowns() -> None:
    r = decide(_result(), 70.0)
    assert [c.speaker for c in r.clusters] == ["1", "UNKNOWN_00", "UNKNOWN_01"]
    assert [t.speaker for t in r.turns] == ["1", "UNKNOWN_00", "UNKNOWN_01", "1"]
    # an unknown cluster scores its best match, as a fresh identification does
    assert r.turns[2].score == 65.0 and r.turns[1].score == 58.0


def test_one_voiceprint_names_at_most_one_cluster() -> None:
    r = decide(_result(), 10.0)
    # "1" is best for both SPEAKER_00 and SPEAKER_01: the assignment gives it to the best pair
    assert [c.speaker for c in r.clusters][0] == "1"
    assert sorted(c.speaker for c in r.clusters).count("1") == 1
    assert decide_clusters((), 50.0) == ()


def test_score_clusters_scores_each_centroid_against_a_new_voiceprint() -> None:
    from engine.calibration import cosine_to_score

    r = _result()
    vp = Voiceprint(vector=_unit([0, 1, 0.2]), model_id="m@1")
    s = score_clusters(r, vp)
    assert set(s) == {"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}
    assert s["SPEAKER_01"] == round(float(cosine_to_score(float(_unit([0, 1, 0.2])[1]))), 2)
    assert s["SPEAKER_01"] > s["SPEAKER_00"]
    assert score_clusters(r, Voiceprint(vector=_unit([0, 1, 0]), model_id="other@1")) == {}


def test_split_channel_results_are_decided_channel_by_channel() -> None:
    # one voiceprint may name a cluster on each channel (each channel is identified alone)
    v = _unit([1, 0, 0])
    clusters = (ClusterInfo("SPEAKER_00", "1", 90.0, 3.0, v, (("1", 90.0),)),
                ClusterInfo("SPEAKER_01", "1", 70.0, 3.0, v, (("1", 70.0),)))
    turns = (Turn(0.0, 1.0, "1", 90.0, "SPEAKER_00", channel=0),
             Turn(0.5, 1.5, "1", 70.0, "SPEAKER_01", channel=1))
    r = IdentificationResult(turns=turns, confidence=None, speaker_curves=None, speaker_ids=(),
                             clusters=clusters, duration=2.0, model_id="m@1", num_speakers=2)
    assert decide(r, 50.0).turns == turns
    assert [t.speaker for t in decide(r, 80.0).turns] == ["1", "UNKNOWN_00"]
    assert [t.channel for t in decide(r, 80.0).turns] == [0, 1]


def _layered() -> IdentificationResult:
    """A result made by the decision layer: clusters carry AS-Norm candidates.

    SPEAKER_00 and SPEAKER_02 are one person (both score "1", never overlap);
    SPEAKER_01 overlaps SPEAKER_00 and also resembles "1"; SPEAKER_03 scores high raw
    but low AS-Norm (a stranger merely nearest to "2")."""
    u = _unit([1, 0, 0])
    clusters = (
        ClusterInfo("SPEAKER_00", "1", 80.0, 4.0, u, (("1", 80.0), ("2", 10.0)),
                    (("1", 80.0, 6.0), ("2", 10.0, 0.1)), 70.0, "named"),
        ClusterInfo("SPEAKER_01", "UNKNOWN_00", 45.0, 3.0, u, (("1", 45.0), ("2", 5.0)),
                    (("1", 45.0, 4.0), ("2", 5.0, 0.0)), 40.0, "below-threshold"),
        ClusterInfo("SPEAKER_02", "UNKNOWN_01", 44.0, 2.0, u, (("1", 44.0), ("2", 3.0)),
                    (("1", 44.0, 4.5), ("2", 3.0, 0.0)), 41.0, "below-threshold"),
        ClusterInfo("SPEAKER_03", "UNKNOWN_02", 60.0, 2.0, u, (("2", 60.0), ("1", 2.0)),
                    (("2", 60.0, 1.0), ("1", 2.0, 0.0)), 58.0, "not-normalised"),
    )
    turns = (Turn(0.0, 4.0, "1", 80.0, "SPEAKER_00"),
             Turn(1.0, 4.0, "UNKNOWN_00", 45.0, "SPEAKER_01"),  # overlaps SPEAKER_00
             Turn(5.0, 7.0, "UNKNOWN_01", 44.0, "SPEAKER_02"),
             Turn(8.0, 10.0, "UNKNOWN_02", 60.0, "SPEAKER_03"))
    return IdentificationResult(turns=turns, confidence=None, speaker_curves=None, speaker_ids=(),
                                clusters=clusters, duration=10.0, model_id="m@1", num_speakers=4)


def test_redecide_uses_the_decision_layer() -> None:
    r = _layered()
    # at the threshold it was made with, nothing changes (window and CLI agree)
    assert decide(r, 50.0).turns == r.turns
    low = decide(r, 40.0)
    names = {c.label: c.speaker for c in low.clusters}
    # a person split in two clusters that never overlap gets one name at 40 ...
    assert names["SPEAKER_00"] == names["SPEAKER_02"] == "1"
    assert {c.label: c.reason for c in low.clusters}["SPEAKER_02"] == "merged"
    # ... the cluster speaking at the same time as SPEAKER_00 competes and loses ...
    assert names["SPEAKER_01"].startswith("UNKNOWN")
    assert {c.label: c.reason for c in low.clusters}["SPEAKER_01"] == "taken"
    # ... and the stranger nearest to "2" stays unknown at any threshold (AS-Norm 1.0)
    assert names["SPEAKER_03"].startswith("UNKNOWN")
    assert decide(r, 10.0).clusters[3].speaker.startswith("UNKNOWN")
    # the old one-to-one rule would have named it and left SPEAKER_02 unknown
    old = {c.label: c.speaker for c in decide_clusters(
        tuple(replace(c, candidates=(), reason="") for c in r.clusters), 40.0)}
    assert old["SPEAKER_03"] == "2" and old["SPEAKER_02"].startswith("UNKNOWN")
