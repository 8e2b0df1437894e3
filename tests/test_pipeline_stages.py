"""Each stage of engine.pipeline on its own, with small synthetic inputs (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import Cancelled
from engine.jobs import CancelToken
from engine.pipeline import (
    assignment,
    cluster_voiceprint,
    clustering,
    confidence,
    embedding,
    frames,
    linking,
    reconstruction,
    runtime,
    segment,
    source,
    turns,
)
from engine.segmentation import CHUNK_FRAMES, CHUNK_SAMPLES, FRAME_STEP, FRAME_STEP_S

STEP = int(7.5 * 16000)
OFF = int(round(STEP / FRAME_STEP))  # frames between chunk starts


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------- source / runtime / frames


def test_source_chunks_and_counting():
    x = np.ones(16000 * 12, np.float32)
    src = source.open_source(__import__("engine.audio", fromlist=["Audio"]).Audio(x[None]),
                             block_seconds=60)
    assert src.total == x.size and src.duration == pytest.approx(12.0)
    counted = source.CountingBlocks(src.blocks)
    chunks = list(source.iter_chunks(counted, STEP))
    assert [c.start for c in chunks] == [0, STEP]
    assert chunks[-1].is_last and chunks[-1].valid == x.size - STEP
    assert counted.total == x.size and counted.done
    assert source.chunk_count(x.size, STEP) == 2


def test_open_source_rejects_arrays():
    from engine.errors import ValidationError

    with pytest.raises(ValidationError):
        source.open_source(np.zeros(10), block_seconds=60)


def test_pacer_and_worker_cancel():
    p = runtime.Pacer(1.5, 4, 8)
    p.timed(4, 0.5)  # 0.125 s per unit -> 12, capped at 8
    assert p.size == 8
    p.timed(4, 12.0)
    assert p.size == 1
    token = CancelToken()
    work = runtime.ModelWorker(token)
    assert work(lambda a: a + 1, 1) == 2
    token.cancel()
    with pytest.raises(Cancelled):
        work(lambda: 0)
    work.close()
    with pytest.raises(Cancelled):
        runtime.Checker(token)()
    runtime.Checker(None)()


def test_runs_of_joins_short_gaps():
    on = np.array([1, 1, 0, 1, 0, 0, 0, 1, 1], np.uint8)
    assert frames.runs_of(on, 2) == [(0, 4), (7, 9)]
    assert frames.runs_of(on, 1) == [(0, 2), (3, 4), (7, 9)]


def test_speech_samples_takes_the_middle():
    chunk = np.arange(CHUNK_SAMPLES, dtype=np.float32)
    mask = np.zeros(CHUNK_FRAMES, bool)
    mask[100:200] = True
    s = frames.speech_samples(chunk, mask, 1000)
    assert s.shape == (1000,) and np.all(np.diff(s) == 1)
    full = frames.speech_samples(chunk, mask, 10**9)
    assert full.shape[0] == 100 * FRAME_STEP
    assert s[0] == full[(full.size - 1000) // 2]


# ---------------------------------------------------------------- segmentation


class _FakeSegmenter:
    def __init__(self):
        self.calls = 0

    def run(self, x):
        self.calls += 1
        logp = np.full((x.shape[0], CHUNK_FRAMES, 7), -10.0, np.float32)
        logp[:, :, 1] = 0.0  # powerset class 1: speaker 0 alone
        return logp


def test_segment_chunks_skips_silence_and_padding():
    loud = np.full(CHUNK_SAMPLES, 0.1, np.float32)
    quiet = np.zeros(CHUNK_SAMPLES, np.float32)
    seg = _FakeSegmenter()
    chunks = [source.Chunk(0, loud, False, CHUNK_SAMPLES), source.Chunk(STEP, quiet, False, CHUNK_SAMPLES),
              source.Chunk(2 * STEP, loud, True, 16000)]
    a = segment.segment_chunks(chunks, seg, runtime.ModelWorker(None), runtime.Pacer(1.5, 4, 8))
    assert a.shape == (3, CHUNK_FRAMES, 3) and a.dtype == np.uint8
    assert seg.calls == 1
    assert a[0, :, 0].all() and not a[0, :, 1:].any()
    assert not a[1].any()  # silent: the model was not asked
    valid = a[2, :, 0].sum()
    assert 50 < valid < 70  # 1 s of audio ~ 59 frames; the padding is inactive


# ---------------------------------------------------------------- linking


def _act(spans: list[tuple[int, int, int]]) -> np.ndarray:
    a = np.zeros((CHUNK_FRAMES, 3), np.uint8)
    for s, f0, f1 in spans:
        a[f0:f1, s] = 1
    return a


def test_linking_follows_a_voice_across_chunks_and_splits_at_pauses():
    lk = linking.UnitLinker(STEP)
    chunk = np.full(CHUNK_SAMPLES, 0.1, np.float32)
    # chunk 0: speaker slot 0 talks to the end; chunk 1: the same voice in slot 2 over the
    # shared frames, then a long pause, then slot 2 again (a new run)
    r0 = lk.add(chunk, _act([(0, 300, CHUNK_FRAMES)]))
    r1 = lk.add(chunk, _act([(2, 0, CHUNK_FRAMES - OFF), (2, 400, 500)]))
    r2 = lk.finish()
    u = lk.units()
    assert r0 == [] and r1 == []
    assert len(u.run_maps) == 2 and not u.run_maps[0].flags.writeable
    assert u.unit_rows[0].tolist() == [0]
    assert u.unit_rows[1].tolist() == [0, 1]  # linked; the run after the pause is new
    assert sorted(r.unit for r in r2) == [0, 1]
    assert u.speech[0] == pytest.approx((CHUNK_FRAMES - 300 + CHUNK_FRAMES - OFF) * FRAME_STEP_S)
    # embedded from the chunk with more clean speech, capped at MAX_EMBED_SECONDS
    assert u.locs[0].chunk == 0 and u.locs[0].clean
    assert u.locs[0].samples == int(linking.MAX_EMBED_SECONDS * 16000)


def test_cut_long_runs_cuts_at_short_pauses_between_long_sides(monkeypatch):
    monkeypatch.setattr(linking, "CUT_GAP_SECONDS", 0.25)
    monkeypatch.setattr(linking, "CUT_SIDE_SECONDS", 1.0)

    def f(t: float) -> int:
        return int(round(t / FRAME_STEP_S))

    on = np.zeros(CHUNK_FRAMES, np.uint8)
    on[f(0.5):f(3.0)] = 1  # 2.5 s, then a 0.3 s pause
    on[f(3.3):f(5.0)] = 1  # 1.7 s, then a 0.1 s pause (a pause inside a word: kept)
    on[f(5.1):f(5.6)] = 1  # 0.5 s, then a 0.3 s pause: too little after it (0.6 s)
    on[f(5.9):f(6.5)] = 1
    runs = frames.runs_of(on, int(round(0.5 / FRAME_STEP_S)))
    assert runs == [(f(0.5), f(6.5))]
    cut = linking.cut_long_runs(on, runs)
    assert cut == [(f(0.5), f(3.0)), (f(3.3), f(6.5))]
    monkeypatch.setattr(linking, "CUT_GAP_SECONDS", 0.0)
    assert linking.cut_long_runs(on, runs) == runs


def test_linking_ignores_short_activity():
    lk = linking.UnitLinker(STEP)
    lk.add(np.zeros(CHUNK_SAMPLES, np.float32), _act([(0, 10, 15)]))
    u = lk.units()
    assert u.unit_rows[0].size == 0
    assert (u.run_maps[0][10:15, 0] == linking.IGNORED).all()


def test_linking_does_not_link_without_coactivity():
    lk = linking.UnitLinker(STEP)
    chunk = np.full(CHUNK_SAMPLES, 0.1, np.float32)
    lk.add(chunk, _act([(0, 0, 200)]))
    lk.add(chunk, _act([(0, 0, 100)]))  # chunk 1 frames 0-100 = chunk 0 frames 444-544
    assert lk.units().unit_rows[1].tolist() == [1]


# ---------------------------------------------------------------- embedding


class _FakeEncoder:
    model_id = "fake"
    dim = 3

    def __init__(self):
        self.batches: list[tuple[int, int]] = []

    def embed(self, windows, lengths=None):
        self.batches.append(windows.shape)
        return np.stack([[float(n), 1.0, 0.0] for n in lengths]).astype(np.float32)


def test_unit_embedder_batches_and_orders_rows():
    enc = _FakeEncoder()
    emb = embedding.UnitEmbedder(enc, runtime.ModelWorker(None), runtime.Pacer(1.5, 10_000, 10_000),
                                 lambda: None)
    reqs = [linking.EmbedRequest(u, 1.0, np.ones(n, np.float32)) for u, n in ((2, 4000), (0, 3000), (1, 5000))]
    emb.submit(reqs[:2])
    emb.flush(False)  # 7000 samples pending < 10 000: nothing yet
    assert enc.batches == []
    emb.submit(reqs[2:])
    emb.flush(True)
    assert sum(b[0] for b in enc.batches) == 3
    assert all(b[0] * b[1] <= 10_000 or b[0] == 1 for b in enc.batches)
    units = linking.Units((), (), np.array([5.0, 0.01, 2.0]), {
        0: linking.SpeechLoc(0, 0, True, 3000), 1: linking.SpeechLoc(0, 1, True, 5000),
        2: linking.SpeechLoc(0, 2, True, 4000)})
    r = emb.result(units, 3)
    assert r.units.tolist() == [0, 1, 2] and r.count == 3
    np.testing.assert_allclose(np.linalg.norm(r.vectors, axis=1), 1.0, atol=1e-6)
    assert r.vectors[1, 0] > r.vectors[0, 0]  # 5000-sample unit has the larger first value
    assert r.weight.tolist() == [5.0, 0.1, 2.0]
    assert [loc.samples for loc in r.locs] == [3000, 5000, 4000]
    empty = embedding.UnitEmbedder(enc, runtime.ModelWorker(None), runtime.Pacer(1, 1, 1),
                                   lambda: None).result(linking.Units((), (), np.zeros(0), {}), 7)
    assert empty.vectors.shape == (0, 7)


# ---------------------------------------------------------------- clustering


def _three_voices(rng, n=10, d=16):
    centers = rng.normal(size=(3, d))
    x = np.concatenate([c + 0.15 * rng.normal(size=(n, d)) for c in centers])
    return _unit(x)


def test_cluster_units_lets_short_units_join_and_drops_unfit_overlap():
    rng = np.random.default_rng(0)
    x = _three_voices(rng)
    stray = _unit(rng.normal(size=(1, 16)))
    x = np.concatenate([x, x[:1], stray])
    clean = np.full(x.shape[0], 3.0)
    clean[-2:] = 0.0  # seen only in overlap
    emb = embedding.UnitEmbeddings(np.arange(x.shape[0]), x, clean, np.full(x.shape[0], 3.0), ())
    c = clustering.cluster_units(emb, num=None, lo=None, hi=None, distance=0.6,
                                 membership=lambda cos: 100.0 * np.asarray(cos))
    assert c.k == 3 and not c.labels.flags.writeable
    assert c.labels[-2] == c.labels[0]  # a short unit joins its nearest cluster
    assert c.labels[-1] == -1  # resembles nothing: no cluster
    without = clustering.cluster_units(emb, num=None, lo=None, hi=None, distance=0.6, membership=None)
    assert without.labels[-1] >= 0
    none = clustering.cluster_units(
        embedding.UnitEmbeddings(np.zeros(0, np.int64), np.zeros((0, 16), np.float32),
                                 np.zeros(0), np.zeros(0), ()),
        num=None, lo=None, hi=None, distance=0.6, membership=None)
    assert none.k == 0 and none.labels.size == 0


def test_cluster_units_gives_short_misfits_a_cluster_of_their_own():
    """A fourth voice heard only in short units (isolated words, 0.8 s each) gets its own
    cluster when together they hold MIN_CLUSTER_SECONDS; before, each unit went to the
    nearest of the three other voices' clusters (and took its name)."""
    rng = np.random.default_rng(1)
    x = _three_voices(rng)
    fourth = _unit(rng.normal(size=16))
    words = _unit(fourth + 0.15 * rng.normal(size=(4, 16)))
    lone = _unit(rng.normal(size=(1, 16)))  # a single stray short unit
    x = np.concatenate([x, words, lone])
    n3 = x.shape[0] - 5
    clean = np.concatenate([np.full(n3, 3.0), np.full(5, 0.8)])
    weight = np.concatenate([np.full(n3, 3.0), np.full(5, 0.8)])
    emb = embedding.UnitEmbeddings(np.arange(x.shape[0]), x, clean, weight, ())

    def member(cos):
        return 100.0 * np.clip(np.asarray(cos), 0, 1)

    c = clustering.cluster_units(emb, num=None, lo=None, hi=None, distance=0.6, membership=member)
    assert c.k == 4
    assert len(set(c.labels[n3:n3 + 4].tolist())) == 1 and c.labels[n3] == 3
    assert c.labels[-1] in (0, 1, 2)  # alone it is too little: nearest cluster, as before
    assert set(c.labels[:n3].tolist()) == {0, 1, 2}
    # a given count or a maximum is kept
    assert clustering.cluster_units(emb, num=None, lo=None, hi=3, distance=0.6,
                                    membership=member).k == 3
    assert clustering.cluster_units(emb, num=3, lo=None, hi=None, distance=0.6,
                                    membership=member).k == 3


# ---------------------------------------------------------------- cluster voiceprints


def test_cluster_embeddings_reads_each_clusters_typical_speech():
    chunk_a = np.full(CHUNK_SAMPLES, 0.1, np.float32)
    x = np.concatenate([chunk_a, np.full(STEP, 0.2, np.float32)])
    run_maps = [np.zeros((CHUNK_FRAMES, 3), np.uint8), np.zeros((CHUNK_FRAMES, 3), np.uint8)]
    run_maps[0][0:200, 0] = 1
    run_maps[1][300:500, 1] = 1  # past the end of chunk 0: the 0.2 samples
    locs = [linking.SpeechLoc(0, 0, True, 200 * FRAME_STEP), linking.SpeechLoc(1, 0, True, 200 * FRAME_STEP)]
    vec = _unit(np.eye(2, 4))
    seen = []

    class Enc:
        dim = 2

        def embed(self, w, lengths=None):
            seen.append(w[:, :10].mean(axis=1).tolist())
            return np.array([[1.0, 0.0] if m < 0.15 else [0.0, 1.0] for m in w[:, :10].mean(axis=1)])

    out = cluster_voiceprint.cluster_embeddings(
        lambda: iter([x]), STEP, run_maps, locs, vec, np.array([0, 1]), vec, np.full(2, 3.0),
        Enc(), runtime.ModelWorker(None), lambda: None)
    assert out.cents.shape == (2, 2) and out.parts is None
    np.testing.assert_allclose(out.cents, np.eye(2), atol=1e-6)  # chunk 0 -> cluster 0, 1 -> 1


# ---------------------------------------------------------------- assignment


def test_assignment_is_one_to_one_above_threshold():
    v = _unit(np.eye(3, 4))
    cents = _unit(np.array([[1, 0.1, 0, 0], [0.9, 0.2, 0, 0], [0, 0, 0.1, 1.0]]))
    a = assignment.assign_voiceprints(cents, v, to_score=lambda c: 100 * np.clip(c, 0, 1),
                                      threshold=50.0)
    assert a.scores.shape == (3, 3)
    assert a.assigned.tolist() == [0, -1, -1]  # one cluster per voiceprint; cluster 2 too low
    assert a.ref.tolist() == [0, 0, 2]  # unknowns refer to their closest voiceprint
    empty = assignment.assign_voiceprints(cents, np.zeros((0, 4), np.float32),
                                          to_score=lambda c: c, threshold=50.0)
    assert empty.assigned.tolist() == [-1, -1, -1] and empty.ref.tolist() == [-1, -1, -1]


# ---------------------------------------------------------------- reconstruction / turns


def _two_chunk_scene():
    """Cluster 0 speaks in chunk 0 frames 100-300, cluster 1 in chunk 1 frames 200-300
    (after the frames chunk 0 also sees: one chunk of two voting would round to nobody)."""
    rm0 = np.zeros((CHUNK_FRAMES, 3), np.uint8)
    rm0[100:300, 0] = 1
    rm1 = np.zeros((CHUNK_FRAMES, 3), np.uint8)
    rm1[200:300, 1] = 1
    unit_rows = [np.array([0]), np.array([1])]
    emb_rows, tables = reconstruction.run_tables(unit_rows, np.array([0, 1]), 2, np.array([0, 1]))
    return [rm0, rm1], emb_rows, tables


def test_reconstruct_blocks_and_turns():
    run_maps, emb_rows, tables = _two_chunk_scene()
    n_frames = OFF + CHUNK_FRAMES
    offsets = reconstruction.chunk_offsets(2, STEP)
    assert offsets.tolist() == [0, OFF]
    blocks = list(reconstruction.reconstruct(
        run_maps, tables, emb_rows, np.array([80.0, 20.0, 0.0], np.float32),
        np.zeros((3, 0), np.float32), k=2, n_frames=n_frames, offsets=offsets, check=lambda: None))
    active = np.concatenate([b.active for b in blocks])
    assert active.shape == (n_frames, 2)
    assert active[100:300, 0].all() and active[:, 0].sum() == 200
    assert active[OFF + 200 : OFF + 300, 1].all() and active[:, 1].sum() == 100
    tr = turns.TurnRuns(2)
    for b in blocks:
        tr.feed(b)
    runs = tr.finish(n_frames)
    assert runs == (((100, 300),), ((OFF + 200, OFF + 300),))
    spans = turns.runs_to_spans(runs, duration=20.0)
    assert spans[0][0][0] == pytest.approx(100 * FRAME_STEP_S, abs=0.05)


def test_reconstruct_blocks_carry_open_runs(monkeypatch):
    run_maps, emb_rows, tables = _two_chunk_scene()
    monkeypatch.setattr(reconstruction, "RECON_BLOCK_FRAMES", 150)
    tr = turns.TurnRuns(2)
    for b in reconstruction.reconstruct(
        run_maps, tables, emb_rows, np.zeros(3, np.float32), np.zeros((3, 0), np.float32), k=2,
        n_frames=OFF + CHUNK_FRAMES, offsets=reconstruction.chunk_offsets(2, STEP), check=lambda: None,
    ):
        tr.feed(b)
    assert tr.finish(OFF + CHUNK_FRAMES)[0] == ((100, 300),)


def test_runs_to_spans_fills_gaps_and_drops_short_turns():
    gap = int(0.05 / FRAME_STEP_S)
    runs = (((0, 100), (100 + gap, 200), (1000, 1003)),)
    spans = turns.runs_to_spans(runs, duration=60.0)
    assert len(spans[0]) == 1  # joined across the short gap; the 3-frame turn is dropped


def test_runs_to_spans_bridges_pauses_between_words_only():
    def f(t: float) -> int:
        return int(round(t / FRAME_STEP_S))

    # words with 0.3 s pauses, then a 0.6 s pause: two turns
    runs = (((f(1.0), f(2.0)), (f(2.3), f(3.0)), (f(3.6), f(5.0))),)
    spans = turns.runs_to_spans(runs, duration=60.0)[0]
    assert len(spans) == 2
    assert spans[0][0] == pytest.approx(1.0, abs=0.03) and spans[0][1] == pytest.approx(3.0, abs=0.03)
    assert spans[1][0] == pytest.approx(3.6, abs=0.03)


def test_label_turns_orders_labels_by_first_appearance():
    spans = (((5.0, 6.0),), (), ((1.0, 2.0), (3.0, 4.0)))
    scores = np.array([[10.0, 90.0], [0, 0], [70.0, 20.0]], np.float32)
    lab = turns.label_turns(spans, assigned=np.array([-1, -1, 0]), ref=np.array([1, 0, 0]),
                            scores=scores, ids=["ann", "bo"], cents=np.eye(3, 4, dtype=np.float32))
    assert lab.present.tolist() == [2, 0]
    assert [(t.start, t.speaker, t.cluster) for t in lab.turns] == [
        (1.0, "ann", "SPEAKER_00"), (3.0, "ann", "SPEAKER_00"), (5.0, "UNKNOWN_00", "SPEAKER_01")]
    assert lab.clusters[1].score == 90.0 and lab.clusters[1].matches[0] == ("bo", 90.0)
    assert lab.clusters[0].duration == 2.0


# ---------------------------------------------------------------- confidence


def test_row_scores_cap_by_membership():
    x = _unit(np.array([[1.0, 0.0], [0.6, 0.8]]))
    a = assignment.Assignment(np.array([[90.0, 10.0]], np.float32), np.array([0]), np.array([0]))
    member = confidence.memberships(x, np.array([0, 0]), _unit(np.array([[1.0, 0.0]])),
                                    separate=True, membership=lambda c: 100 * np.asarray(c))
    np.testing.assert_allclose(member, [100.0, 60.0], atol=1e-4)
    r = confidence.row_scores(x, np.array([0, 0]), member, a, _unit(np.eye(2, 3)),
                              separate=True, to_score=lambda c: c, curves=True)
    np.testing.assert_allclose(r.score, [90.0, 60.0, 0.0], atol=1e-4)
    assert r.curve_rows.tolist() == [0, 1]
    np.testing.assert_allclose(r.curve[:2], [[90.0, 10.0], [60.0, 10.0]], atol=1e-4)
    no_member = confidence.memberships(x, np.array([0, 0]), x[:1], separate=True, membership=None)
    assert (no_member == 100.0).all()
    off = confidence.row_scores(x, np.array([0, 0]), no_member, a, _unit(np.eye(2, 3)),
                                separate=True, to_score=lambda c: c, curves=False)
    assert off.curve_rows.size == 0 and off.curve.shape == (3, 0)


def test_confidence_tracks_sample_the_active_speaker():
    nf = 600
    active = np.zeros((nf, 1), bool)
    active[100:200, 0] = True
    A = active.astype(np.float32)
    block = reconstruction.FrameBlock(0, nf, A, A * 70.0, np.zeros((nf, 0), np.float32),
                                      np.zeros(nf, np.float32), active)
    tracks = confidence.ConfidenceTracks(nf * FRAME_STEP_S, 0.02, k=1, curve_rows=0, confidence=True)
    tracks.feed(block)
    c = tracks.confidence()
    assert c is not None and tracks.curves() is None
    assert c.values.max() == pytest.approx(70.0) and c.values[0] == 0.0
    on = c.values > 0
    assert on.sum() == pytest.approx(100 * FRAME_STEP_S / 0.02, abs=2)
    assert confidence.ConfidenceTracks(10.0, 0.02, k=1, curve_rows=0, confidence=False).confidence() is None


def test_two_parts_needs_speech_on_both_sides():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 16))
    x = _unit(np.concatenate([a + 0.1 * rng.normal(size=(4, 16)), b + 0.1 * rng.normal(size=(3, 16))]))
    w = np.full(7, 3.0)
    parts = cluster_voiceprint.two_parts(x, w)
    assert parts is not None
    assert len(set(parts[:4].tolist())) == 1 and len(set(parts[4:].tolist())) == 1
    assert parts[0] != parts[4]
    w_small = w.copy()
    w_small[4:] = 1.0  # 3 s on one side < PART_MIN_SECONDS
    assert cluster_voiceprint.two_parts(x, w_small) is None
    assert cluster_voiceprint.two_parts(x[:1], w[:1]) is None
