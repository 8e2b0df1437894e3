"""Stage 5, the decision layer: which clusters take a library name, and why.

Replaces the plain one-to-one assignment (:mod:`engine.pipeline.assignment`, still used
with :data:`LEGACY_DECISIONS`) with rules that each can be switched off
(:class:`Decisions`) so their effect is measurable (bench/bench_accuracy.py):

* **Shared names** (``merge_disjoint``): several clusters may take the same name when
  they never speak at the same time (one person split in two clusters); they are then
  merged into one speaker. Only clusters that overlap in time
  (:data:`OVERLAP_SECONDS` and :data:`OVERLAP_SHARE`) compete one-to-one.
* **Clearly closer** (``normalisation``, ``margin``): a cluster is named only when its
  calibrated score clears the threshold AND it is clearly closer to that voiceprint
  than to everything else it could be: the score is normalised (adaptive s-norm,
  AS-Norm) against a cohort made of the other enrolled voiceprints and the impostor
  voiceprints shipped with the app (:mod:`engine.pipeline.cohort`), and the raw score
  must beat the next candidate (enrolled or cohort) by ``margin`` points.
* **Mixed clusters** (``split_mixed``): a cluster's units are split in two groups by
  the diarization model; when one group clears the rules for the chosen voiceprint and
  the other clearly does not, the other group becomes a cluster of its own instead of
  taking the name (:func:`split_mixed`).

Every cluster gets a :class:`ClusterWhy`: its top candidates with raw and normalised
scores, the margin, and the rule that decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.pipeline.assignment import Assignment, ScoreFn, assign_voiceprints, to_scores
from engine.pipeline.embedding import normalize_rows
from engine.segmentation import FRAME_STEP_S, NUM_LOCAL_SPEAKERS
from engine.segments import readonly

OVERLAP_SECONDS = 1.0
"""Two clusters speak at the same time when they are co-active for at least this long
(seconds summed over the segmentation chunks, which see most frames twice) ..."""
OVERLAP_SHARE = 0.10
"""... and for at least this share of the shorter cluster's activity. Below that, the
co-activity is the segmentation doubling one voice, as happens at turn changes."""
MARGIN = 0.0
"""Points (0-100 score) the chosen voiceprint must beat every other candidate by: the
other enrolled voiceprints and the cohort of impostors. Off by default: on the 41-speaker
dev set (bench/bench_decisions.py --devset full --grid) a margin of 8 or 15 cost 4-5
points of right names and stopped no stranger (stranger-named 20.9 % -> 20.7 %)."""
NORM_THRESHOLD = 3.5
"""Least AS-Norm score (standard deviations above the cohort) for a name. Chosen with
:data:`COHORT_TOP` on the 41-speaker dev set with the shipped cohort
(``python bench/bench_decisions.py --devset full --conversations 16 --grid``, 28
conversations): 3.5 over the 5 closest cohort members gives right 80.2 % / strangers
named 5.4 % (tuning half 81.2 / 5.9, test half 79.0 / 4.9), against 84.6 / 12.8 for
the one-to-one rule alone; 3.0 left 10.7 % strangers named, 4.0 cost 2 points of right
names and stopped no more strangers. Re-checked after the quiet-stretch gate and 6 s units
of linking, on the 40-speaker dev set: every threshold from 2 to 3.5 (top 5 to 50) gives
the same right 93.6 % / strangers 1.4 % (what is still named is mixing, not a decision),
4 costs 2-5 points of right names; 3.5 kept as the stricter of the equal ones."""
COHORT_TOP = 5
"""AS-Norm's adaptive cohort: the most similar this many cohort voiceprints (impostors
and other enrolled voiceprints). With 50 (all of a ~40-voice cohort) the spread came
from far-away voices, and adding the shipped cohort made things worse (strangers named
6.8 % -> 10.8 %); 5 and 10 use only the voices that compete with the cluster."""
MIN_COHORT = 8
"""With fewer cohort voiceprints than this the normalisation is not computed (the
rule then does not apply; the margin rule still does)."""
TOP_CANDIDATES = 3
"""Candidates explained per cluster."""


@dataclass(frozen=True)
class Decisions:
    """The decision rules in force (all on by default).

    Attributes:
        merge_disjoint: clusters that never overlap may share a name (and are merged).
        normalisation: ``"asnorm"`` or ``"none"``.
        norm_threshold: least AS-Norm score for a name (:data:`NORM_THRESHOLD`).
        margin: points the chosen voiceprint must lead by (:data:`MARGIN`; 0 = off).
        split_mixed: split clusters that mix an enrolled person with someone else.
        cohort_top: AS-Norm's adaptive cohort size (:data:`COHORT_TOP`).
        legacy: the single one-to-one Hungarian assignment of the first pipeline
            (overrides everything else; the golden test uses it).
        cohort: float32 ``(M, d)`` impostor voiceprints, or None for the shipped cohort
            (:func:`engine.pipeline.cohort.default_cohort`).
    """

    merge_disjoint: bool = True
    normalisation: str = "asnorm"
    norm_threshold: float = NORM_THRESHOLD
    margin: float = MARGIN
    split_mixed: bool = True
    cohort_top: int = COHORT_TOP
    legacy: bool = False
    cohort: np.ndarray | None = field(default=None, compare=False, repr=False)


DEFAULT_DECISIONS = Decisions()
LEGACY_DECISIONS = Decisions(
    merge_disjoint=False, normalisation="none", margin=0.0, split_mixed=False, legacy=True
)
"""Exactly the first pipeline's decisions (one-to-one Hungarian, threshold only)."""


@dataclass(frozen=True)
class Candidate:
    """One voiceprint a cluster could be.

    Attributes:
        voiceprint: index into the voiceprints.
        score: calibrated 0-100 score.
        norm: AS-Norm score (None when not computed).
    """

    voiceprint: int
    score: float
    norm: float | None


@dataclass(frozen=True)
class ClusterWhy:
    """Why a cluster got its name (or none).

    Attributes:
        candidates: the best :data:`TOP_CANDIDATES` voiceprints, best raw score first.
        margin: points by which the best candidate leads the next one (enrolled or
            cohort); None without voiceprints.
        reason: a short machine-readable code: ``named``, ``merged``, ``no-voiceprints``,
            ``below-threshold``, ``not-distinct`` (margin), ``not-normalised`` (AS-Norm),
            ``taken`` (an overlapping cluster has the name), ``split`` (split off a
            cluster of an enrolled person).
    """

    candidates: tuple[Candidate, ...]
    margin: float | None
    reason: str


@dataclass(frozen=True)
class Decision:
    """The outcome over the (possibly merged) clusters.

    Attributes:
        assignment: scores, names and reference voiceprints of the new clusters.
        new_index: int64 ``(K_old,)`` the new cluster of each old one.
        cents: float32 ``(K_new, d)`` voiceprint-model embeddings of the new clusters.
        why: one :class:`ClusterWhy` per new cluster.
    """

    assignment: Assignment
    new_index: np.ndarray
    cents: np.ndarray
    why: tuple[ClusterWhy, ...]


# --------------------------------------------------------------------------- overlap


def cluster_activity(
    run_maps: Sequence[np.ndarray], tables: Sequence[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(co-activity (k, k), activity (k,))`` seconds, summed over the chunks.

    Two clusters are co-active on the frames of one chunk where runs of both are active
    (different local speakers of the segmentation).
    """
    co = np.zeros((k, k), dtype=np.float64)
    act = np.zeros(k, dtype=np.float64)
    for rm, tab in zip(run_maps, tables, strict=True):
        if not tab.size or (tab < 0).all():
            continue
        lut = np.concatenate([[-1], tab, np.full(256 - 1 - tab.size, -1)]).astype(np.int64)
        who = lut[rm.astype(np.int64)]  # (frames, slots) cluster per slot
        for s in range(NUM_LOCAL_SPEAKERS):
            ws = who[:, s]
            if (ws >= 0).any():
                act += np.bincount(ws[ws >= 0], minlength=k)[:k] * FRAME_STEP_S
            for t in range(s + 1, NUM_LOCAL_SPEAKERS):
                wt = who[:, t]
                both = (ws >= 0) & (wt >= 0) & (ws != wt)
                if both.any():
                    np.add.at(co, (ws[both], wt[both]), FRAME_STEP_S)
                    np.add.at(co, (wt[both], ws[both]), FRAME_STEP_S)
    return co, act


def overlapping(co: np.ndarray, act: np.ndarray) -> np.ndarray:
    """bool ``(k, k)``: which clusters speak at the same time (see :data:`OVERLAP_SECONDS`)."""
    shorter = np.minimum(act[:, None], act[None, :])
    return (co >= OVERLAP_SECONDS) & (co >= OVERLAP_SHARE * shorter)


# --------------------------------------------------------------------------- scores


def as_norm(
    cents: np.ndarray, voiceprints: np.ndarray, cohort: np.ndarray, *, top: int = COHORT_TOP
) -> np.ndarray | None:
    """Adaptive s-norm of every cluster x voiceprint cosine, float32 ``(K, V)``.

    The cohort of a pair is the impostor ``cohort (M, d)`` plus the other enrolled
    voiceprints; each side is normalised by the mean and spread of its ``top`` most
    similar cohort members (Matejka et al. 2017, "Analysis of score normalization in
    multilingual speaker recognition"). None when the cohort has fewer than
    :data:`MIN_COHORT` members.
    """
    k, v = cents.shape[0], voiceprints.shape[0]
    if k == 0 or v == 0 or cohort.shape[0] + v - 1 < MIN_COHORT:
        return None
    raw = cents @ voiceprints.T  # (K, V)
    e_coh = cents @ cohort.T if cohort.shape[0] else np.zeros((k, 0), np.float32)
    v_coh = voiceprints @ cohort.T if cohort.shape[0] else np.zeros((v, 0), np.float32)
    vv = voiceprints @ voiceprints.T
    out = np.zeros((k, v), dtype=np.float32)
    for j in range(v):
        others = np.delete(np.arange(v), j)
        ce = np.concatenate([e_coh, raw[:, others]], axis=1)  # (K, M + V - 1)
        cv = np.concatenate([v_coh[j], vv[j, others]])  # (M + V - 1,)
        n = min(top, ce.shape[1])
        te = -np.sort(-ce, axis=1)[:, :n]
        tv = -np.sort(-cv)[:n]
        ze = (raw[:, j] - te.mean(axis=1)) / np.maximum(te.std(axis=1), 1e-3)
        zv = (raw[:, j] - tv.mean()) / max(float(tv.std()), 1e-3)
        out[:, j] = 0.5 * (ze + zv)
    return out


def margins(scores: np.ndarray, cohort_best: np.ndarray) -> np.ndarray:
    """float32 ``(K, V)``: score of each voiceprint minus the best other candidate's
    (another voiceprint or the best cohort score ``cohort_best (K,)``)."""
    k, v = scores.shape
    out = np.zeros((k, v), dtype=np.float32)
    for j in range(v):
        rest = np.delete(scores, j, axis=1)
        best_other = np.maximum(rest.max(axis=1) if rest.shape[1] else 0.0, cohort_best)
        out[:, j] = scores[:, j] - best_other
    return out


def _why(
    scores: np.ndarray, norm: np.ndarray | None, marg: np.ndarray, k: int, reason: str
) -> ClusterWhy:
    if scores.shape[1] == 0:
        return ClusterWhy((), None, "no-voiceprints")
    order = np.argsort(-scores[k], kind="stable")[:TOP_CANDIDATES]
    cands = tuple(
        Candidate(
            int(j),
            round(float(scores[k, j]), 2),
            None if norm is None else round(float(norm[k, j]), 2),
        )
        for j in order
    )
    return ClusterWhy(cands, round(float(marg[k, order[0]]), 2), reason)


def decide(
    cents: np.ndarray,
    voiceprints: np.ndarray,
    *,
    cohort: np.ndarray,
    to_score: ScoreFn,
    threshold: float,
    overlap: np.ndarray,
    rules: Decisions,
) -> Decision:
    """Name the clusters.

    Args:
        cents: float32 ``(K, d)`` unit-norm voiceprint-model cluster embeddings.
        voiceprints: float32 ``(V, d)`` unit-norm voiceprints.
        cohort: float32 ``(M, d)`` unit-norm impostor voiceprints (may be empty).
        to_score: cosine -> 0-100; threshold: 0-100 score a name needs.
        overlap: bool ``(K, K)`` clusters that speak at the same time.
        rules: the rules in force.
    """
    k = cents.shape[0]
    if rules.legacy:
        a = assign_voiceprints(cents, voiceprints, to_score=to_score, threshold=threshold)
        marg0 = margins(a.scores, np.zeros(k, np.float32)) if a.scores.shape[1] else a.scores
        why = tuple(
            _why(a.scores, None, marg0, i, "named" if a.assigned[i] >= 0 else "below-threshold")
            for i in range(k)
        )
        return Decision(a, readonly(np.arange(k, dtype=np.int64)), cents, why)

    v = voiceprints.shape[0]
    scores = (
        to_scores(to_score, cents @ voiceprints.T) if (k and v) else np.zeros((k, v), np.float32)
    )
    norm = (
        as_norm(cents, voiceprints, cohort, top=rules.cohort_top)
        if (rules.normalisation == "asnorm" and k and v)
        else None
    )
    cohort_best = (
        to_scores(to_score, (cents @ cohort.T).max(axis=1))
        if (k and cohort.shape[0])
        else np.zeros(k, np.float32)
    )
    marg = margins(scores, cohort_best) if (k and v) else np.zeros((k, v), np.float32)
    ok, reason = eligible(scores, norm, marg, threshold=threshold, rules=rules)

    why_code = [str(reason[i, int(np.argmax(scores[i]))]) if v else "below-threshold"
                for i in range(k)]
    assigned, taken_by = assign_names(
        scores, ok, overlap, merge_disjoint=rules.merge_disjoint, codes=why_code
    )

    # merge the clusters sharing a name into the first of them
    new_index = np.arange(k, dtype=np.int64)
    for holders in taken_by.values():
        for h in holders[1:]:
            new_index[h] = holders[0]
    keep = np.unique(new_index)
    remap = np.full(k, -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    new_index = remap[new_index]
    k2 = int(keep.size)
    if k2 == k:
        cents2, scores2, norm2, marg2, assigned2 = cents, scores, norm, marg, assigned
        codes2 = why_code
    else:
        summed = np.zeros((k2, cents.shape[1]), dtype=np.float64)
        np.add.at(summed, new_index, cents.astype(np.float64))
        cents2 = normalize_rows(summed)
        scores2 = to_scores(to_score, cents2 @ voiceprints.T)
        norm2 = as_norm(cents2, voiceprints, cohort, top=rules.cohort_top) if norm is not None else None
        cb2 = (
            to_scores(to_score, (cents2 @ cohort.T).max(axis=1))
            if cohort.shape[0]
            else np.zeros(k2, np.float32)
        )
        marg2 = margins(scores2, cb2)
        assigned2 = assigned[keep]  # keep[i]: the old cluster that represents new cluster i
        codes2 = [why_code[int(r)] for r in keep]
        for holders in taken_by.values():
            if len(holders) > 1:
                codes2[int(new_index[holders[0]])] = "merged"
    ref = (
        np.where(assigned2 >= 0, assigned2, np.argmax(scores2, axis=1) if v else -1)
        if k2
        else np.zeros(0, dtype=np.int64)
    )
    a = Assignment(readonly(scores2), readonly(assigned2), readonly(np.asarray(ref, np.int64)))
    why = tuple(_why(scores2, norm2, marg2, i, codes2[i]) for i in range(k2))
    return Decision(a, readonly(new_index), cents2, why)


def eligible(
    scores: np.ndarray,
    norm: np.ndarray | None,
    marg: np.ndarray | None,
    *,
    threshold: float,
    rules: Decisions,
) -> tuple[np.ndarray, np.ndarray]:
    """Which cluster x voiceprint pairs may take the name, and why not.

    Args:
        scores: float ``(K, V)`` 0-100; norm: float ``(K, V)`` AS-Norm scores (NaN:
            unknown, which fails the rule) or None (rule off); marg: float ``(K, V)``
            margins or None (rule off).

    Returns:
        ``(ok bool (K, V), reason object (K, V))`` with reasons ``named``,
        ``below-threshold``, ``not-distinct``, ``not-normalised``.
    """
    ok = scores >= float(threshold)
    reason = np.full(scores.shape, "named", dtype=object)
    reason[~ok] = "below-threshold"
    if rules.margin > 0 and marg is not None:
        bad = ok & (marg < rules.margin)
        reason[bad] = "not-distinct"
        ok &= ~bad
    if norm is not None:
        bad = ok & ~(np.nan_to_num(norm, nan=-np.inf) >= rules.norm_threshold)
        reason[bad] = "not-normalised"
        ok &= ~bad
    return ok, reason


def assign_names(
    scores: np.ndarray,
    ok: np.ndarray,
    overlap: np.ndarray,
    *,
    merge_disjoint: bool,
    codes: list[str] | None = None,
) -> tuple[np.ndarray, dict[int, list[int]]]:
    """Give the clusters names: the one assignment rule of :func:`decide` and of
    :func:`engine.decide.decide` (the window's threshold slider), so both agree.

    With ``merge_disjoint``, the best ``ok`` pairs go first and a name goes to every
    cluster that does not overlap (``overlap``) a cluster already holding it; without,
    one optimal one-to-one assignment over the ``ok`` pairs.

    Args:
        scores: float ``(K, V)`` 0-100 scores; ok: bool ``(K, V)`` pairs that pass the
            rules (threshold, AS-Norm, margin); overlap: bool ``(K, K)``.
        codes: per cluster, its reason code, updated in place (``named``, ``merged``,
            ``taken``).

    Returns:
        ``(assigned int64 (K,) voiceprint per cluster or -1, {voiceprint: clusters
        holding it, in the order they took it})``.
    """
    k, v = scores.shape
    assigned = np.full(k, -1, dtype=np.int64)
    taken_by: dict[int, list[int]] = {}
    codes = codes if codes is not None else [""] * k
    if not (k and v):
        return assigned, taken_by
    if merge_disjoint:
        pairs = sorted(
            ((float(scores[i, j]), i, j) for i in range(k) for j in range(v) if ok[i, j]),
            reverse=True,
        )
        for _s, i, j in pairs:
            if assigned[i] >= 0:
                continue
            holders = taken_by.get(j, [])
            if any(overlap[i, h] for h in holders):
                codes[i] = "taken"
                continue
            assigned[i] = j
            taken_by.setdefault(j, []).append(i)
            codes[i] = "named" if not holders else "merged"
    else:
        rows, cols = _hungarian(np.where(ok, scores, -1.0))
        for r, c in zip(rows, cols, strict=True):
            if ok[r, c]:
                assigned[r] = c
                taken_by.setdefault(int(c), []).append(int(r))
                codes[r] = "named"
        for i in range(k):
            if assigned[i] < 0 and ok[i].any():
                codes[i] = "taken"
    return assigned, taken_by


def _hungarian(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(-m)
    return rows, cols


# --------------------------------------------------------------------------- mixed clusters

SPLIT_SCORE = 20.0
"""A half of a cluster scoring under this (0-100) against the voiceprint its other half
matches is someone else (the different-speaker p95 of engine/calibration.py is ~20)."""


@dataclass(frozen=True)
class Split:
    """Clusters after splitting the mixed ones.

    Attributes:
        labels: int64 ``(n,)`` cluster of each embedding row (-1: none).
        cents: float32 ``(K + s, d)`` voiceprint-model embeddings; the ``s`` split-off
            parts come last.
        split_off: int64 ``(s,)`` the cluster each split-off part came from.
    """

    labels: np.ndarray
    cents: np.ndarray
    split_off: np.ndarray


def split_mixed(
    cents: np.ndarray,
    parts: np.ndarray,
    part_of_row: np.ndarray,
    labels: np.ndarray,
    voiceprints: np.ndarray,
    *,
    to_score: ScoreFn,
    threshold: float,
) -> Split:
    """Split off the half of a cluster that is clearly not the person its other half is.

    A cluster whose better half clears ``threshold`` against its best voiceprint while
    the other half scores under :data:`SPLIT_SCORE` against it keeps the better half;
    the other becomes a cluster of its own (named or not by :func:`decide`).

    Args:
        cents: float32 ``(K, d)``; parts: float32 ``(K, 2, d)`` halves (zero rows: not
            split); part_of_row: int64 ``(n,)`` half of each row (-1: none).
        labels: int64 ``(n,)`` cluster of each row; voiceprints: float32 ``(V, d)``.
    """
    k, v = cents.shape[0], voiceprints.shape[0]
    labels = labels.copy()
    new_cents = [c for c in cents]
    split_off: list[int] = []
    if v:
        for i in range(k):
            if not (np.abs(parts[i]).sum(axis=1) > 0).all():
                continue
            sp = to_scores(to_score, parts[i] @ voiceprints.T)  # (2, V)
            j = int(np.argmax(sp.max(axis=0)))
            good = int(np.argmax(sp[:, j]))
            bad = 1 - good
            if sp[good, j] >= threshold and sp[bad, j] < SPLIT_SCORE:
                new_cents[i] = parts[i, good]
                new_cents.append(parts[i, bad])
                labels[(labels == i) & (part_of_row == bad)] = k + len(split_off)
                split_off.append(i)
    return Split(
        readonly(labels),
        readonly(np.stack(new_cents).astype(np.float32) if new_cents else cents),
        readonly(np.array(split_off, dtype=np.int64)),
    )


def mark_split(decision: Decision, split_clusters: Sequence[int]) -> Decision:
    """``decision`` with reason ``split`` on the unnamed clusters that were split off
    (``split_clusters``: their indices before :func:`decide`)."""
    import dataclasses

    why = list(decision.why)
    for old in split_clusters:
        new = int(decision.new_index[old])
        if decision.assignment.assigned[new] < 0:
            why[new] = dataclasses.replace(why[new], reason="split")
    return dataclasses.replace(decision, why=tuple(why))
