"""Re-decide names from an :class:`~engine.identify.IdentificationResult`'s scores.

Identification spends its time on audio (segmentation, embeddings, clustering);
naming the clusters is a small assignment over scores the result already holds.
These functions redo only that step, so a new threshold or a new voiceprint
changes the names at once, without a re-run; they apply the same decision layer as
identify() (:mod:`engine.pipeline.decision`: threshold, AS-Norm, shared names of
clusters that never overlap), so the window's threshold slider and the CLI agree.

The per-cluster scores come from :attr:`ClusterInfo.matches` (the best
:data:`engine.identify.MAX_MATCHES` voiceprints of each cluster) and
:attr:`ClusterInfo.candidates` (the best three, with their AS-Norm scores); a
voiceprint outside a cluster's best matches counts as score 0 for it, which cannot win
an assignment that a listed voiceprint would lose. What needs the audio is not redone:
clusters split or merged by identify() stay as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from engine.calibration import cosine_to_score
from engine.identify import ClusterInfo, IdentificationResult
from engine.pipeline.decision import (
    DEFAULT_DECISIONS,
    LEGACY_DECISIONS,
    Decisions,
    assign_names,
    eligible,
    overlapping,
)
from engine.segments import Turn, unknown_label
from engine.voiceprint import Voiceprint


def _overlap(clusters: tuple[ClusterInfo, ...], turns: Sequence[Turn]) -> np.ndarray:
    """bool ``(K, K)``: clusters that speak at the same time, from their turns.

    The same rule as :func:`engine.pipeline.decision.overlapping` (co-active at least
    :data:`~engine.pipeline.decision.OVERLAP_SECONDS` and
    :data:`~engine.pipeline.decision.OVERLAP_SHARE` of the shorter one); identify()
    sums co-activity over segmentation chunks that see most frames twice, so turn
    time counts double here.
    """
    index = {c.label: k for k, c in enumerate(clusters)}
    k = len(clusters)
    co = np.zeros((k, k), dtype=np.float64)
    act = np.zeros(k, dtype=np.float64)
    spans = sorted((t.start, t.end, index[t.cluster]) for t in turns if t.cluster in index)
    for i, (a, b, ci) in enumerate(spans):
        act[ci] += 2.0 * (b - a)
        for a2, b2, cj in spans[i + 1 :]:
            if a2 >= b:
                break
            if cj != ci:
                d = 2.0 * (min(b, b2) - a2)
                co[ci, cj] += d
                co[cj, ci] += d
    return overlapping(co, act)


def decide_clusters(
    clusters: tuple[ClusterInfo, ...],
    threshold: float,
    groups: Sequence[int] | None = None,
    *,
    turns: Sequence[Turn] = (),
    rules: Decisions = DEFAULT_DECISIONS,
) -> tuple[ClusterInfo, ...]:
    """Each cluster's speaker and score at ``threshold`` (0-100), as :func:`identify` decides.

    The decision layer's rules (:mod:`engine.pipeline.decision`) on the scores the result
    holds: a pair must clear ``threshold`` and, when the result was normalised (its
    clusters carry AS-Norm scores in ``candidates``), the AS-Norm threshold; a
    voiceprint outside a cluster's stored candidates has no AS-Norm score and cannot
    name it. Then :func:`~engine.pipeline.decision.assign_names`: clusters that never
    speak at the same time (from ``turns``) may share a name, overlapping ones compete
    one-to-one. A result made with the legacy rules (no candidates) is decided
    one-to-one on its matches, as it was made. Groups are the channels of a
    split-channel result, each identified on its own (see
    :mod:`engine.identify_channels`). Unknown clusters are numbered ``UNKNOWN_00``,
    ``UNKNOWN_01`` ... in cluster order, and score their best match (0 with none), as
    in a fresh identification.

    Args:
        clusters: the result's clusters, in label order.
        threshold: minimum 0-100 score for a name.
        groups: a group key per cluster (None: all in one group).
        turns: the result's turns (for which clusters overlap; none: no overlap).
        rules: the decision rules (the defaults of identify()).

    Returns:
        The clusters with ``speaker``, ``score`` and ``reason`` re-decided (other
        fields kept).
    """
    ids = sorted({vid for c in clusters for vid, _ in c.matches}
                 | {vid for c in clusters for vid, _, _ in c.candidates})
    col = {vid: j for j, vid in enumerate(ids)}
    k, v = len(clusters), len(ids)
    scores = np.zeros((k, v), dtype=np.float64)
    norm = np.full((k, v), np.nan, dtype=np.float64)
    for i, c in enumerate(clusters):
        for vid, s in c.matches:
            scores[i, col[vid]] = float(s)
        for vid, s, z in c.candidates:
            scores[i, col[vid]] = float(s)
            if z is not None:
                norm[i, col[vid]] = float(z)
    made_legacy = not any(c.candidates for c in clusters)
    normalised = any(z is not None for c in clusters for _, _, z in c.candidates)
    if made_legacy or rules.legacy:
        rules = LEGACY_DECISIONS
    elif not normalised:
        rules = replace(rules, normalisation="none")
    marg = np.zeros((k, v), dtype=np.float64)
    for j in range(v):
        rest = np.delete(scores, j, axis=1)
        marg[:, j] = scores[:, j] - (rest.max(axis=1) if rest.shape[1] else 0.0)
    ok, reason = eligible(
        scores, norm if rules.normalisation == "asnorm" else None, marg,
        threshold=float(threshold), rules=rules,
    )
    overlap = _overlap(clusters, turns)
    keys = list(groups) if groups is not None else [0] * k
    codes = [str(reason[i, int(np.argmax(scores[i]))]) if v else "no-voiceprints"
             for i in range(k)]
    assigned = np.full(k, -1, dtype=np.int64)
    for g in dict.fromkeys(keys):
        members = np.array([i for i, key in enumerate(keys) if key == g], dtype=np.int64)
        if not members.size or not v:
            continue
        sub_codes = [codes[int(i)] for i in members]
        sub, _ = assign_names(
            scores[members], ok[members], overlap[np.ix_(members, members)],
            merge_disjoint=rules.merge_disjoint and not rules.legacy, codes=sub_codes,
        )
        assigned[members] = sub
        for i, code in zip(members, sub_codes, strict=True):
            codes[int(i)] = code
    out: list[ClusterInfo] = []
    n_unknown = 0
    for i, c in enumerate(clusters):
        if assigned[i] >= 0:
            j = int(assigned[i])
            out.append(replace(c, speaker=ids[j], score=round(float(scores[i, j]), 2),
                               reason=c.reason and codes[i]))
        else:
            best = max((float(s) for _, s in c.matches), default=0.0)
            out.append(replace(c, speaker=unknown_label(n_unknown), score=round(best, 2),
                               reason=c.reason and codes[i]))
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
    clusters = decide_clusters(result.clusters, threshold, groups, turns=result.turns)
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
