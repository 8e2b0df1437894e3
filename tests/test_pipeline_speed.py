"""The speed settings of the pipeline stages (issue 15): the energy gate that keeps quiet
chunks from the segmentation model, and the CAM++ window cap of the embedding stage."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.errors import Cancelled, ValidationError
from engine.jobs import CancelToken
from engine.pipeline import embedding, linking, runtime, segment, source
from engine.segmentation import CHUNK_FRAMES, CHUNK_SAMPLES
from tests import _helpers_identify as H


def _noise(dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 10 ** (dbfs / 20), CHUNK_SAMPLES).astype(np.float32)


def test_quiet_chunks_skips_a_noise_floor_but_not_quiet_speech():
    speech = H.normalize(H.clip("A", "test", 0))[:CHUNK_SAMPLES]
    speech = np.pad(speech, (0, CHUNK_SAMPLES - speech.shape[0]))
    rms = float(np.sqrt(np.mean(speech**2)))
    quiet_speech = speech * np.float32(10 ** (-40 / 20) / rms) + _noise(-70, 1)  # -40 dBFS RMS
    x = np.stack([np.zeros(CHUNK_SAMPLES, np.float32), _noise(-70), quiet_speech, _noise(-50)])
    # the -70 dBFS floor peaks above -60 dBFS: the peak rule alone keeps it
    assert np.abs(x[1]).max() > segment.SILENCE_PEAK
    assert segment.quiet_chunks(x).tolist() == [True, True, False, False]


def test_quiet_chunks_without_the_gate_skips_only_digital_silence(monkeypatch):
    monkeypatch.setattr(segment, "ENERGY_GATE", False)
    x = np.stack([np.zeros(CHUNK_SAMPLES, np.float32), _noise(-70)])
    assert segment.quiet_chunks(x).tolist() == [True, False]


class _CountingSegmenter:
    def __init__(self) -> None:
        self.rows = 0

    def run(self, x: np.ndarray) -> np.ndarray:
        self.rows += x.shape[0]
        logp = np.full((x.shape[0], CHUNK_FRAMES, 7), -10.0, np.float32)
        logp[:, :, 1] = 0.0
        return logp


def test_segment_chunks_does_not_segment_a_noise_floor():
    seg = _CountingSegmenter()
    chunks = [source.Chunk(0, _noise(-70), False, CHUNK_SAMPLES),
              source.Chunk(1, _noise(-30), True, CHUNK_SAMPLES)]
    a = segment.segment_chunks(chunks, seg, runtime.ModelWorker(None), runtime.Pacer(1.5, 4, 8))
    assert seg.rows == 1
    assert not a[0].any() and a[1, :, 0].all()


class _LengthEncoder:
    model_id = "fake"
    dim = 2

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []

    def embed(self, windows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        self.rows += [w[: int(n)].copy() for w, n in zip(windows, lengths, strict=True)]
        return np.stack([[float(n), 1.0] for n in lengths]).astype(np.float32)


@pytest.mark.parametrize("cap", [1.0, 2.0])
def test_unit_embedder_embeds_the_middle_of_long_speech(monkeypatch, cap):
    monkeypatch.setattr(embedding, "EMBED_SECONDS", cap)
    enc = _LengthEncoder()
    emb = embedding.UnitEmbedder(enc, runtime.ModelWorker(None),
                                 runtime.Pacer(1.5, 10**6, 10**6), lambda: None)
    long = np.arange(48000, dtype=np.float32)  # 3 s
    short = np.ones(8000, np.float32)  # 0.5 s: under any cap, kept whole
    emb.submit([linking.EmbedRequest(0, 3.0, long), linking.EmbedRequest(1, 0.5, short)])
    emb.flush(True)
    n = int(cap * 16000)
    by_len = sorted(enc.rows, key=len)
    assert len(by_len[0]) == 8000
    got = by_len[1]
    assert got.shape[0] == n
    np.testing.assert_array_equal(got, long[(48000 - n) // 2 : (48000 - n) // 2 + n])
    units = linking.Units((), (), np.array([3.0, 0.5]), {
        0: linking.SpeechLoc(0, 0, True, 48000), 1: linking.SpeechLoc(0, 1, True, 8000)})
    r = emb.result(units, 2)
    assert r.clean.tolist() == [3.0, 0.5]  # the stretch the voiceprint model reads is unchanged
    assert [loc.samples for loc in r.locs] == [48000, 8000]


class _SlowSegmenter(_CountingSegmenter):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.started = threading.Event()

    def run(self, x: np.ndarray) -> np.ndarray:
        self.started.set()
        time.sleep(self.delay)
        return super().run(x)


def _batches(n: int) -> list[list[source.Chunk]]:
    loud = _noise(-30)
    return [[source.Chunk(i, loud, i == n - 1, CHUNK_SAMPLES)] for i in range(n)]


@pytest.mark.parametrize("ahead", [True, False])
def test_segment_ahead_keeps_order_and_runs_one_batch_ahead(monkeypatch, ahead):
    monkeypatch.setattr(segment, "SEGMENT_AHEAD", ahead)
    seg = _CountingSegmenter()
    pulled = []

    def batches():
        for b in _batches(4):
            pulled.append(b[0].start)
            yield b

    out = []
    pulled_at_yield = []
    for chunks, act in segment.segment_ahead(batches(), seg, runtime.Pacer(1.5, 1, 1),
                                             lambda: None):
        pulled_at_yield.append(len(pulled))
        out.append(chunks[0].start)
        assert act.shape == (1, CHUNK_FRAMES, 3) and act[0, :, 0].all()
    assert out == [0, 1, 2, 3] and seg.rows == 4
    # ahead: batch k is handed over once batch k + 1 is on its way to the model
    assert pulled_at_yield == ([2, 3, 4, 4] if ahead else [1, 2, 3, 4])


def test_segment_ahead_cancel_does_not_wait_for_the_running_batch():
    seg = _SlowSegmenter(2.0)
    token = CancelToken()

    def cancel_when_started() -> None:
        seg.started.wait(30)
        token.cancel()

    threading.Thread(target=cancel_when_started, daemon=True).start()
    t0 = time.perf_counter()
    gen = segment.segment_ahead(_batches(3), seg, runtime.Pacer(1.5, 1, 1),
                                runtime.Checker(token))
    with pytest.raises(Cancelled):
        for _ in gen:
            pass
    assert seg.started.is_set() and seg.rows == 0  # raised before the first batch ended
    assert time.perf_counter() - t0 < 30


def test_segment_ahead_passes_model_errors_on():
    class Broken:
        def run(self, x: np.ndarray) -> np.ndarray:
            raise ValidationError("bad chunk", location="chunks")

    with pytest.raises(ValidationError):
        list(segment.segment_ahead(_batches(2), Broken(), runtime.Pacer(1.5, 1, 1), lambda: None))
