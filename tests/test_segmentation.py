"""segmentation-3.0 ONNX: the packaged model, its frame geometry and powerset decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import segmentation as seg
from engine.errors import ValidationError


@pytest.fixture(scope="module")
def segmenter() -> seg.Segmenter:
    return seg.default_segmenter()


def test_model_ships_in_the_package():
    p = seg.model_path()
    assert p.name == "segmentation-3.0.onnx" and p.stat().st_size > 1_000_000


@pytest.mark.parametrize("n", [160_000, 159_730, 48_000, 991, 1260, 1261])
def test_frame_count_matches_the_model(segmenter, n):
    out = segmenter.run(np.zeros((1, n), np.float32))
    assert out.shape == (1, seg.num_frames(n), 7)


def test_geometry_constants():
    assert seg.CHUNK_FRAMES == 589
    assert seg.FRAME_STEP == 270 and seg.FRAME_SIZE == 991
    # the last frame ends inside the chunk
    assert (seg.CHUNK_FRAMES - 1) * seg.FRAME_STEP + seg.FRAME_SIZE <= seg.CHUNK_SAMPLES


def test_output_is_log_softmax(segmenter):
    x = np.random.default_rng(0).normal(0, 0.1, (2, 160_000)).astype(np.float32)
    out = segmenter.run(x)
    np.testing.assert_allclose(np.exp(out).sum(-1), 1.0, atol=1e-4)


def test_powerset_to_speakers():
    logp = np.log(np.full((1, 7), 1e-6, np.float32))
    for k, spk in enumerate(seg.POWERSET_CLASSES):
        lp = logp.copy()
        lp[0, k] = 0.0
        hard = seg.powerset_to_speakers(lp)
        assert hard.shape == (1, 3)
        assert set(np.flatnonzero(hard[0]).tolist()) == set(spk)
    soft = seg.powerset_to_speakers(np.log(np.full((5, 7), 1 / 7, np.float32)), soft=True)
    np.testing.assert_allclose(soft, 3 / 7, atol=1e-5)
    with pytest.raises(ValidationError):
        seg.powerset_to_speakers(np.zeros((3, 5)))


def test_speech_found_where_the_reference_says(segmenter, data_dir: Path):
    x, sr = sf.read(data_dir / "pyannote_sample.wav", dtype="float32")
    assert sr == 16000
    chunk = x[10 * sr : 20 * sr]
    act = seg.powerset_to_speakers(segmenter.run(chunk[None]))[0]
    t = 10 + seg.FRAME_CENTER_S + np.arange(seg.CHUNK_FRAMES) * seg.FRAME_STEP_S
    ref = np.zeros_like(t, dtype=bool)
    for line in (data_dir / "pyannote_sample.rttm").read_text().splitlines():
        f = line.split()
        a, d = float(f[3]), float(f[4])
        ref |= (t >= a) & (t < a + d)
    speech = act.sum(axis=1) > 0
    assert np.mean(speech == ref) > 0.85
    # silence stays silent
    silent = segmenter.run(np.zeros((1, 160_000), np.float32))
    assert seg.powerset_to_speakers(silent).sum() == 0


def test_bad_chunks(segmenter):
    with pytest.raises(ValidationError):
        segmenter.run(np.zeros((1, 100), np.float32))
    with pytest.raises(ValidationError):
        segmenter.run(np.full((1, 16000), np.nan, np.float32))
    assert segmenter.run(np.zeros((0, 16000), np.float32)).shape == (0, 56, 7)
