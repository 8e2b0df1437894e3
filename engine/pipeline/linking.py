"""Stage 2, linking local speakers across chunks into *units*.

Each local speaker's activity in a chunk is cut into runs at pauses of
:data:`SPLIT_GAP_SECONDS` (the model's speaker identity across a long pause is its
weakest decision). A run is linked to the previous chunk's run it co-activates with on
the frames both chunks see (pyannote 2.x "stitching"), so a unit follows one voice
across chunks. Each unit keeps the speech it will be embedded from: the chunk where it
has the most non-overlapped speech (at most :data:`MAX_EMBED_SECONDS`; overlapped speech
only when there is too little clean speech); a unit reaching :data:`UNIT_MAX_SECONDS`
is closed and a new one continues it.

Memory per chunk: a ``(CHUNK_FRAMES, 3)`` uint8 run map and one unit id per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.pipeline.frames import SAMPLE_RATE, runs_of, speech_samples
from engine.segmentation import CHUNK_FRAMES, FRAME_STEP, FRAME_STEP_S, NUM_LOCAL_SPEAKERS
from engine.segments import readonly

MAX_EMBED_SECONDS = 3.0
"""Clean speech used per (chunk, local speaker) embedding, seconds."""
MIN_EMBED_SECONDS = 0.5
"""Less clean speech than this: embed the speaker's overlapped speech instead."""
MIN_ACTIVE_SECONDS = 0.25
"""Local speakers active for less than this in a chunk are ignored."""
LINK_MIN_SECONDS = 0.3
"""Co-activity (seconds, on the frames two consecutive chunks share) needed to link
their local speakers into one unit; also at least half of either one's activity."""
SPLIT_GAP_SECONDS = 0.5
"""A local speaker's activity is cut into separate runs (units) at pauses this long."""
UNIT_MAX_SECONDS = 8.0
"""A unit that reaches this much speech is closed and a new one (with its own
embedding) continues it, so a linking error cannot spread far: when segmentation keeps
one local speaker through a change of voice, the next voice still gets embeddings of its
own. 30 s before issue 11; on the 41-speaker dev set (bench/bench_decisions.py --devset
full --conversations 16, with the quiet-stretch gate) 30 / 10 / 6 s gave strangers named
2.9 / 1.6 / 1.5 %, right names 82.0 / 82.3 / 83.5 %, DER25 11.3 / 10.8 / 9.7 %, for
1360 / 1593 / 1792 s of CAM++ audio per hour of speech (1 h bench: 20.9 -> 23.0 s wall).
8 s since the cuts at short pauses (:data:`CUT_GAP_SECONDS`) took over most of that job:
with them, 6 and 8 s give the same dev-set scores (right 97.4 %, strangers 2.0 %, DER25
4.3 %), 10 s 95.9 % right, 30 s 95.4 %; 8 s embeds less (1 h bench: 30.5 -> 29.9 s).
With the final quiet gate and cuts: 8 s 98.2 % right, 10-30 s 96.8-97.0 %."""
CUT_GAP_SECONDS = 0.25
"""A run is also cut at a shorter pause, of at least this long, when both sides hold
:data:`CUT_SIDE_SECONDS` of activity (0: off), so each side gets an embedding of its own.
Segmentation-3.0 often keeps one local speaker through a change of voice when the
change comes with a short pause (0.3-0.5 s); the whole run then took the first voice's
embedding, cluster and name (issue 11: a stranger's turn and the next enrolled person's
under one label). Cutting only where both sides are long keeps every embedding at 1 s
of speech or more. On the 40-speaker dev set (bench/bench_decisions.py --devset full
--conversations 16, Silero-gated speech), right names / strangers named / DER25: off
95.8 / 1.5 / 5.5 %; 0.3 s with 1.5 s sides 96.5 / 2.4 / 5.1; 0.25 s with 2 s 97.1 /
2.6 / 4.9; 0.25 s with 1 s 97.4 / 2.0 / 4.3 (tuning half 97.2 / 2.3 / 4.1, test half
97.7 / 1.7 / 4.5); 0.15 s with 2 s 97.6 / 2.7 / 4.3. The real pyannote sample is unchanged
by all of them (DER 5.4 %, no collar). Re-swept after the quiet gate of segmentation went
to 0.25 s (engine.pipeline.segment.QUIET_FRAME_SECONDS): 0.25 s with 1 / 1.5 / 2 / 3 s
sides 98.5 / 98.2 / 97.6 / 96.8 % right, 1.4 / 1.3 / 2.1 / 2.2 % strangers, DER25 3.5 /
3.4 / 4.2 / 5.3 %; 1.5 s sides cut less (1 h bench 31.0 -> 30.0 s)."""
CUT_SIDE_SECONDS = 1.5
"""Least activity on each side of a :data:`CUT_GAP_SECONDS` cut."""
IGNORED = 255
"""Run map value: active, but too short to be a unit."""


class SpeechLoc(NamedTuple):
    """Where a unit's embedded speech is: ``chunk`` index, ``run`` index in that chunk's
    run map, ``clean`` (single-speaker frames only) and its length in ``samples``."""

    chunk: int
    run: int
    clean: bool
    samples: int


@dataclass(frozen=True)
class EmbedRequest:
    """A closed unit's speech, to be embedded.

    Attributes:
        unit: the unit id.
        clean_seconds: seconds of clean (single-speaker) speech in ``samples``; 0 when
            they are overlapped speech.
        samples: float32 ``(n,)`` 16 kHz, at most :data:`MAX_EMBED_SECONDS`.
    """

    unit: int
    clean_seconds: float
    samples: np.ndarray


@dataclass(frozen=True)
class Units:
    """Every chunk's runs and the units they belong to.

    Attributes:
        run_maps: per chunk, read-only uint8 ``(CHUNK_FRAMES, 3)``: 0 inactive, ``j + 1``
            frame of run ``j``, :data:`IGNORED` active but too short to be a run.
        unit_rows: per chunk, read-only int64 ``(runs,)`` unit id of each run.
        speech: float64 ``(n_units,)`` seconds of activity of each unit.
        locs: unit id -> :class:`SpeechLoc` of its embedded speech (units with too
            little speech have none).
    """

    run_maps: tuple[np.ndarray, ...]
    unit_rows: tuple[np.ndarray, ...]
    speech: np.ndarray
    locs: Mapping[int, SpeechLoc]


def cut_long_runs(on: np.ndarray, runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``runs`` with each one cut at its inner pauses of at least :data:`CUT_GAP_SECONDS`
    that leave :data:`CUT_SIDE_SECONDS` of activity on both sides."""
    if CUT_GAP_SECONDS <= 0:
        return runs
    gap = int(round(CUT_GAP_SECONDS / FRAME_STEP_S))
    side = int(round(CUT_SIDE_SECONDS / FRAME_STEP_S))
    out: list[tuple[int, int]] = []
    for a, b in runs:
        seg = on[a:b] > 0
        if int(seg.sum()) < 2 * side:
            out.append((a, b))
            continue
        d = np.diff(np.concatenate([[1], seg.astype(np.int8), [1]]))
        g0, g1 = np.flatnonzero(d == -1), np.flatnonzero(d == 1)
        cs = np.concatenate([[0], np.cumsum(seg)])
        start = 0
        for x0, x1 in zip(g0.tolist(), g1.tolist(), strict=True):
            if x1 - x0 >= gap and cs[x0] - cs[start] >= side and cs[-1] - cs[x1] >= side:
                out.append((a + start, a + x0))
                start = x1
        out.append((a + start, b))
    return out


class UnitLinker:
    """Feeds chunks in order; collects units and their embedding requests.

    Args:
        step: samples between chunk starts.
    """

    def __init__(self, step: int) -> None:
        self._step = step
        self._run_maps: list[np.ndarray] = []
        self._unit_rows: list[np.ndarray] = []
        self._speech: list[float] = []
        # unit -> (clean frames, clean?, samples, chunk, run): the best speech seen so far
        self._cand: dict[int, tuple[int, bool, np.ndarray, int, int]] = {}
        self._locs: dict[int, SpeechLoc] = {}
        self._prev_masks: np.ndarray | None = None
        self._prev_units: list[int] = []
        self._min_active = int(round(MIN_ACTIVE_SECONDS / FRAME_STEP_S))
        self._min_clean = int(round(MIN_EMBED_SECONDS / FRAME_STEP_S))
        self._max_emb = int(round(MAX_EMBED_SECONDS * SAMPLE_RATE))
        self._max_emb_frames = int(round(MAX_EMBED_SECONDS / FRAME_STEP_S))
        self._link_min = int(round(LINK_MIN_SECONDS / FRAME_STEP_S))
        self._split_gap = int(round(SPLIT_GAP_SECONDS / FRAME_STEP_S))

    @property
    def chunks_seen(self) -> int:
        return len(self._run_maps)

    def _close(self, u: int, out: list[EmbedRequest]) -> None:
        c = self._cand.pop(u, None)
        if c is not None and c[2].shape[0] >= MIN_EMBED_SECONDS * SAMPLE_RATE * 0.5:
            out.append(EmbedRequest(u, c[0] * FRAME_STEP_S if c[1] else 0.0, c[2]))
            self._locs[u] = SpeechLoc(c[3], c[4], c[1], c[2].shape[0])

    def add(self, chunk: np.ndarray, act: np.ndarray) -> list[EmbedRequest]:
        """Add the next chunk.

        Args:
            chunk: float32 ``(CHUNK_SAMPLES,)`` samples.
            act: uint8 ``(CHUNK_FRAMES, 3)`` local speaker activity.

        Returns:
            requests for the units that ended in the previous chunk.
        """
        ci = len(self._run_maps)
        single = act.sum(axis=1) == 1
        runs: list[tuple[int, np.ndarray]] = []  # (slot, frame mask)
        run_map = np.where(act > 0, IGNORED, 0).astype(np.uint8)
        for s in range(NUM_LOCAL_SPEAKERS):
            for f0, f1 in cut_long_runs(act[:, s], runs_of(act[:, s], self._split_gap)):
                mask = np.zeros(CHUNK_FRAMES, dtype=bool)
                mask[f0:f1] = act[f0:f1, s] > 0
                if mask.sum() >= self._min_active and len(runs) < IGNORED - 1:
                    runs.append((s, mask))
                    run_map[mask, s] = len(runs)
        self._run_maps.append(readonly(run_map))
        prev_masks = self._prev_masks
        units_prev = self._prev_units
        links: dict[int, int] = {}
        if prev_masks is not None and runs and units_prev:
            step = self._step
            off = int(round(ci * step / FRAME_STEP)) - int(round((ci - 1) * step / FRAME_STEP))
            n_ov = CHUNK_FRAMES - off
            if n_ov > 0:
                pa = prev_masks[off : off + n_ov].astype(np.float32)
                ca = np.stack([m[:n_ov] for _, m in runs], axis=1).astype(np.float32)
                m = pa.T @ ca  # (previous runs, runs) co-active frames
                rows, cols = linear_sum_assignment(-m)
                for rp, rc in zip(rows, cols, strict=True):
                    need = max(self._link_min, 0.5 * min(pa[:, rp].sum(), ca[:, rc].sum()))
                    if m[rp, rc] >= need:
                        links[int(rc)] = units_prev[rp]
        units_now: list[int] = []
        speech = self._speech
        for j, (_s, mask) in enumerate(runs):
            u = links.get(j, -1)
            if u >= 0 and (speech[u] >= UNIT_MAX_SECONDS or u in units_now):
                u = -1  # long stretch: a new unit (and embedding) for robustness
            if u < 0:
                u = len(speech)
                speech.append(0.0)
            units_now.append(u)
            speech[u] += float(mask.sum()) * FRAME_STEP_S
            clean = mask & single
            n_clean = int(clean.sum())
            old = self._cand.get(u)
            if old is None or (old[0] < self._max_emb_frames and n_clean > old[0]):
                use_clean = n_clean >= self._min_clean
                samples = speech_samples(chunk, clean if use_clean else mask, self._max_emb)
                self._cand[u] = (n_clean, use_clean, samples, ci, j)
        out: list[EmbedRequest] = []
        for u in units_prev:
            if u not in units_now:
                self._close(u, out)
        self._prev_masks = np.stack([m for _, m in runs], axis=1) if runs else None
        self._prev_units = units_now
        self._unit_rows.append(readonly(np.array(units_now, dtype=np.int64)))
        return out

    def finish(self) -> list[EmbedRequest]:
        """Close the units still open after the last chunk; returns their requests."""
        out: list[EmbedRequest] = []
        for u in self._prev_units:
            self._close(u, out)
        return out

    def units(self) -> Units:
        return Units(
            run_maps=tuple(self._run_maps),
            unit_rows=tuple(self._unit_rows),
            speech=readonly(np.array(self._speech, dtype=np.float64)),
            locs=dict(self._locs),
        )
