"""Why a cluster got its name, as tooltip text (Qt-free: the window and its tests share it).

The engine's :class:`engine.identify.ClusterInfo` carries the decision layer's
explanation: the top candidates with raw 0-100 and normalised (AS-Norm) scores, the
margin over the next candidate, and the rule that decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from engine.segments import Turn

REASONS = {
    "named": "named: above the threshold and clearly closest to this voiceprint",
    "merged": "named: several clusters that never speak at once, merged as this person",
    "below-threshold": "unknown: no voiceprint scores above the threshold",
    "not-distinct": "unknown: not clearly closer to one voiceprint than to the others "
                    "or to the impostor cohort",
    "not-normalised": "unknown: close to this voiceprint, but no more than voices "
                      "of the impostor cohort are",
    "taken": "unknown: the voiceprint went to a cluster speaking at the same time",
    "split": "split off a cluster of an enrolled person: it does not match the voiceprint",
    "no-voiceprints": "unknown: the library is empty",
}


def cluster_text(info: Any, name_of: Callable[[str], str]) -> str | None:
    """Tooltip lines for one cluster (None when the result carries no explanation)."""
    reason = str(getattr(info, "reason", "") or "")
    candidates = tuple(getattr(info, "candidates", ()) or ())
    if not reason and not candidates:
        return None
    lines = [f"{getattr(info, 'label', '')}: {REASONS.get(reason, reason)}"]
    for vid, score, norm in candidates:
        extra = f", normalised {norm:+.1f}" if norm is not None else ""
        lines.append(f"  {name_of(str(vid))}: score {score:.0f}{extra}")
    margin = getattr(info, "margin", None)
    if margin is not None:
        lines.append(f"  margin over the next candidate: {margin:.0f} points")
    return "\n".join(lines)


def cluster_texts(clusters: Iterable[Any], name_of: Callable[[str], str]) -> dict[str, str]:
    """``cluster label -> tooltip`` for the clusters that carry an explanation."""
    out: dict[str, str] = {}
    for c in clusters:
        label = getattr(c, "label", None)
        text = cluster_text(c, name_of) if label is not None else None
        if text:
            out[str(label)] = text
    return out


def lane_texts(turns: Sequence[Turn], by_cluster: Mapping[str, str]) -> dict[str, str]:
    """``speaker label -> tooltip`` of a lane: the explanations of the clusters whose
    turns it holds (a lane can gather several after edits)."""
    clusters: dict[str, list[str]] = {}
    for t in turns:
        if t.cluster in by_cluster and t.cluster not in clusters.setdefault(t.speaker, []):
            clusters[t.speaker].append(t.cluster)
    return {
        spk: "\n\n".join(by_cluster[c] for c in cs) for spk, cs in clusters.items() if cs
    }
