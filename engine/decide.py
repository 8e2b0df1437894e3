"""Re-decide names from an :class:`~engine.identify.IdentificationResult`'s scores.

Identification spends its time on audio (segmentation, embeddings, clustering);
naming the clusters is a small assignment over scores the result already holds.
These functions redo only that step, so a new threshold or a new voiceprint
changes the names at once, without a re-run.

The per-cluster scores come from :attr:`ClusterInfo.matches` (the best
:data:`engine.identify.MAX_MATCHES` voiceprints of each cluster); a voiceprint
outside a cluster's best matches counts as score 0 for it, which cannot win an
assignment that a listed voiceprint would lose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.calibration import cosine_to_score
from engine.identify import ClusterInfo, IdentificationResult
from engine.segments import unknown_label
from engine.voiceprint import Voiceprint


def decide_clusters(
    clusters: tuple[ClusterInfo, ...], threshold: float, groups: Sequence[int] | None = None
) -> tuple[ClusterInfo, ...]:
    """Each cluster's speaker and score at ``threshold`` (0-100), as :func:`identify` decides.

    Within a group, one voiceprint names at most one cluster (an optimal one-to-one
    assignment on the scores); a pair below ``threshold`` stays unknown. Groups are
    the channels of a split-channel result, each identified on its own (see
    :mod:`engine.identify_channels`). Unknown clusters are numbered ``UNKNOWN_00``,
    ``UNKNOWN_01`` ... in cluster order, and score their best match (0 with none),
    as in a fresh identification.

    Args:
        clusters: the result's clusters, in label order.
        threshold: minimum 0-100 score for a name.
        groups: a group key per cluster (None: all in one group).

    Returns:
        The clusters with ``speaker`` and ``score`` re-decided (other fields kept).
    """
    ids = sorted({vid for c in clusters for vid, _ in c.matches})
    col = {vid: j for j, vid in enumerate(ids)}
    scores = np.zeros((len(clusters), len(ids)), dtype=np.float64)
    for k, c in enumerate(clusters):
        for vid, s in c.matches:
            scores[k, col[vid]] = float(s)
    keys = list(groups) if groups is not None else [0] * len(clusters)
    assigned: dict[int, int] = {}
    for g in dict.fromkeys(keys):
        members = np.array([k for k, key in enumerate(keys) if key == g], dtype=np.int64)
        if not members.size or not ids:
            continue
        rows, cols = linear_sum_assignment(-scores[members])
        for r, c_ in zip(rows, cols, strict=True):
            if scores[members[r], c_] >= float(threshold):
                assigned[int(members[r])] = int(c_)
    out: list[ClusterInfo] = []
    n_unknown = 0
    for k, c in enumerate(clusters):
        if k in assigned:
            out.append(replace(c, speaker=ids[assigned[k]], score=round(float(scores[k, assigned[k]]), 2)))
        else:
            best = max((float(s) for _, s in c.matches), default=0.0)
            out.append(replace(c, speaker=unknown_label(n_unknown), score=round(best, 2)))
            n_unknown += 1
    return tuple(out)


def decide(result: IdentificationResult, threshold: float) -> IdentificationResult:
    """``result`` with its turns and clusters re-named at ``threshold`` (0-100).

    The clusters of a split-channel result are decided channel by channel (a
    cluster's channel is its turns'), as :func:`engine.identify_channels` does.

    Turns keep their times and cluster; their ``speaker`` and ``score`` become their
    cluster's (see :func:`decide_clusters`). A turn whose cluster is not in
    ``result.clusters`` is left as it is. Confidence and curves are kept: they
    score whoever speaks, not the decision.
    """
    channel_of: dict[str, int] = {}
    for t in result.turns:
        channel_of.setdefault(t.cluster, t.channel if t.channel is not None else -1)
    groups = [channel_of.get(c.label, -1) for c in result.clusters]
    clusters = decide_clusters(result.clusters, threshold, groups)
    by_label = {c.label: c for c in clusters}
    turns = tuple(
        replace(t, speaker=by_label[t.cluster].speaker, score=by_label[t.cluster].score)
        if t.cluster in by_label
        else t
        for t in result.turns
    )
    return replace(result, turns=turns, clusters=clusters)


def score_clusters(result: IdentificationResult, voiceprint: Voiceprint) -> dict[str, float]:
    """0-100 score of each cluster's centroid against ``voiceprint``, by cluster label.

    Empty when the voiceprint comes from another model than the result's
    (scores across models mean nothing) or when the dimensions differ.
    """
    if result.model_id and voiceprint.model_id != result.model_id:
        return {}
    v = np.asarray(voiceprint.vector, dtype=np.float32)
    out: dict[str, float] = {}
    for c in result.clusters:
        centroid = np.asarray(c.centroid, dtype=np.float32)
        if centroid.shape != v.shape:
            continue
        norm = float(np.linalg.norm(centroid))
        if norm == 0.0:
            continue
        out[c.label] = round(float(cosine_to_score(float(centroid @ v) / norm)), 2)
    return out
