"""silero-vad from its wheel: batched streams agree with frame-by-frame, regions match RTTM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import vad
from engine.errors import ValidationError
from engine.segments import ScoreTrack, Segment


@pytest.fixture(scope="module")
def sample(data_dir: Path) -> np.ndarray:
    x, sr = sf.read(data_dir / "pyannote_sample.wav", dtype="float32")
    assert sr == 16000
    return x


def _reference(x: np.ndarray) -> np.ndarray:
    """Frame-by-frame, batch 1, as silero's own OnnxWrapper.audio_forward does it."""
    import onnxruntime as ort

    s = ort.InferenceSession(str(vad.model_path()), providers=["CPUExecutionProvider"])
    n = -(-x.size // 512)
    pad = np.zeros(n * 512, np.float32)
    pad[: x.size] = x
    state = np.zeros((2, 1, 128), np.float32)
    ctx = np.zeros(64, np.float32)
    out = np.empty(n, np.float32)
    for i in range(n):
        frame = pad[i * 512 : (i + 1) * 512]
        inp = np.concatenate([ctx, frame])[None, :]
        p, state = s.run(None, {"input": inp, "state": state, "sr": np.array(16000, np.int64)})
        out[i] = p[0, 0]
        ctx = frame[-64:]
    return out


def test_model_ships_in_the_wheel() -> None:
    path = vad.model_path()
    assert path.is_file() and path.name == "silero_vad.onnx"
    assert "silero_vad" in path.parts


def test_single_stream_equals_frame_by_frame_reference(sample: np.ndarray) -> None:
    x = sample[: 8 * 16000]
    track = vad.speech_probabilities(x, stream_frames=10**6)
    ref = _reference(x)
    assert track.values.shape == ref.shape == (-(-x.size // 512),)
    np.testing.assert_allclose(track.values, ref, atol=1e-5)


def test_batched_streams_agree_with_one_stream(sample: np.ndarray) -> None:
    one = vad.speech_probabilities(sample, stream_frames=10**6).values
    # 128-frame (4 s) streams: 8 streams in one batch, each warmed up on the 2 s before it.
    many = vad.speech_probabilities(sample, stream_frames=128).values
    assert many.shape == one.shape
    assert float(np.abs(many - one).mean()) < 0.01
    assert float(((many > 0.5) != (one > 0.5)).mean()) < 0.01
    # Without warm-up the stream boundaries show: the warm-up is what makes them agree.
    cold = vad.speech_probabilities(sample, stream_frames=128, warmup_frames=0).values
    assert float(np.abs(cold - one).mean()) > float(np.abs(many - one).mean())


def test_track_geometry_and_silence() -> None:
    x = np.zeros(16000 * 3 + 100, np.float32)
    track = vad.speech_probabilities(x)
    assert isinstance(track, ScoreTrack)
    assert track.start == 0.0 and track.step == pytest.approx(0.032)
    assert track.num_frames == -(-x.size // 512)
    assert float(track.values.max()) < 0.2
    assert vad.speech_regions(x) == []
    assert vad.speech_probabilities(np.zeros(0, np.float32)).num_frames == 0


def _rttm_mask(path: Path, n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for line in path.read_text().splitlines():
        f = line.split()
        a, d = float(f[3]), float(f[4])
        mask[int(a * 16000) : int((a + d) * 16000)] = True
    return mask


def test_regions_match_reference_speech(sample: np.ndarray, data_dir: Path) -> None:
    regions = vad.speech_regions(sample)
    assert regions and all(isinstance(r, Segment) for r in regions)
    assert all(a.end <= b.start for a, b in zip(regions, regions[1:], strict=False))
    assert regions[0].start >= 0 and regions[-1].end <= sample.size / 16000
    ref = _rttm_mask(data_dir / "pyannote_sample.rttm", sample.size)
    hyp = vad.speech_mask(regions, sample.size)
    recall = (hyp & ref).sum() / ref.sum()
    precision = (hyp & ref).sum() / hyp.sum()
    assert recall > 0.85 and precision > 0.85, (recall, precision)


def test_post_processing_rules() -> None:
    step = 0.032
    p = np.zeros(200, np.float32)
    p[10:40] = 0.9  # 0.96 s of speech
    p[40:42] = 0.2  # 64 ms gap -> bridged (min_silence 0.1)
    p[42:60] = 0.9
    p[60:70] = 0.45  # between neg (0.35) and threshold: hysteresis keeps it speech
    p[100:104] = 0.9  # 128 ms blip -> dropped (min_speech 0.25)
    p[150:180] = 0.9
    p[180:190] = 0.0  # gap of 0.32 s -> kept
    p[190:200] = 0.9  # runs to the end of the track
    track = ScoreTrack(0.0, step, p)
    regs = vad.regions_from_probabilities(track, 200 * step - 0.01, pad=0.0)
    assert [(round(r.start / step), round(r.end / step)) for r in regs[:2]] == [
        (10, 70),
        (150, 180),
    ]
    assert regs[2].start == pytest.approx(190 * step) and regs[2].end == pytest.approx(
        200 * step - 0.01
    )
    padded = vad.regions_from_probabilities(track, 200 * step - 0.01, pad=0.2)
    assert padded[0].start == pytest.approx(10 * step - 0.2)
    assert padded[-1].end == pytest.approx(200 * step - 0.01)  # clipped to the duration
    assert len(padded) == 2  # the padded regions 2 and 3 touch and merge


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 100), np.float32),
        np.zeros(100, np.int16),
        np.array([0.0, np.nan], np.float32),
        np.array([np.inf] * 600, np.float32),
    ],
)
def test_bad_input_is_a_typed_error(bad: np.ndarray) -> None:
    with pytest.raises(ValidationError):
        vad.speech_probabilities(bad)
