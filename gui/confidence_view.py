"""The confidence curve as the table reads it (Qt-free).

The engine's per-frame confidence is the score of the speaker's cluster, lowered
where a stretch fits its cluster poorly, and it scores whoever the engine heard,
not the names the review settled on. Drawn as is, it disagrees with the table:
it rises above a turn's score in overlaps, stays at 5 after an unknown speaker
is enrolled with a real score, and stays up over deleted turns.

The curve drawn is therefore: over each turn, that turn's score (the table's)
times how well the stretch fits its cluster (engine confidence over the score
of the original turn there, at most 1); 0 where no turn is. Before any edit it
is the engine's curve capped at the table's scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.segments import ScoreTrack, Turn


def _frame_span(track: ScoreTrack, t: Turn) -> slice:
    # frame i covers [start + (i - 1/2) step, start + (i + 1/2) step): take the frames
    # whose centre lies inside the turn
    a = int(np.ceil((t.start - track.start) / track.step))
    b = int(np.floor((t.end - track.start) / track.step)) + 1
    n = track.num_frames
    return slice(min(max(a, 0), n), min(max(b, 0), n))


def _max_score(track: ScoreTrack, turns: Sequence[Turn]) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the highest turn score covering it, and whether any turn covers it."""
    score = np.zeros(track.num_frames, dtype=np.float32)
    covered = np.zeros(track.num_frames, dtype=bool)
    for t in turns:
        s = _frame_span(track, t)
        score[s] = np.maximum(score[s], float(t.score))
        covered[s] = True
    return score, covered


def table_confidence(track: ScoreTrack, original: Sequence[Turn],
                     turns: Sequence[Turn]) -> np.ndarray:
    """Per-frame 0-100 values, float64 shape ``(track.num_frames,)``, on ``track``'s grid.

    Args:
        track: the engine's confidence (1-D).
        original: the turns of the engine result the track came from.
        turns: the turns as reviewed (relabelled, split, merged, deleted).
    """
    conf = np.asarray(track.values, dtype=np.float64).reshape(-1)
    orig, orig_cov = _max_score(track, original)
    new, new_cov = _max_score(track, turns)
    fit = np.ones_like(conf)
    has = orig_cov & (orig > 0)
    fit[has] = np.clip(conf[has] / orig[has], 0.0, 1.0)
    return np.where(new_cov, new * fit, 0.0)
