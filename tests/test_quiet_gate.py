"""The quiet-stretch gate of segmentation (issue 11): a long stretch of near-silence inside
a chunk is not speech, whatever the model says, so two people's turns separated by it are
not chained into one run (and one name)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.pipeline import runtime, segment, source
from engine.segmentation import CHUNK_FRAMES, CHUNK_SAMPLES, FRAME_STEP, SAMPLE_RATE


def _tone(seconds: float, dbfs: float = -20.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _floor(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 10 ** (dbfs / 20), int(seconds * SAMPLE_RATE)).astype(np.float32)


def _chunk(*parts: np.ndarray) -> np.ndarray:
    x = np.concatenate(parts)
    return np.pad(x, (0, CHUNK_SAMPLES - x.shape[0]))[:CHUNK_SAMPLES]


def _frame(t: float) -> int:
    return int(t * SAMPLE_RATE / FRAME_STEP)


def test_quiet_frames_marks_long_pauses_only():
    # 2 s loud, 1 s at -70 dBFS, 2 s loud, 0.2 s at -70 dBFS, 2 s loud, 1 s at -50 dBFS, rest loud
    x = _chunk(_tone(2), _floor(1, -70), _tone(2), _floor(0.2, -70, 1), _tone(2),
               _floor(1, -50, 2), _tone(1.5))
    q = segment.quiet_frames(x[None])[0]
    assert q.shape == (CHUNK_FRAMES,)
    assert q[_frame(2.2):_frame(2.85)].all()  # inside the long pause (receptive field aside)
    assert not q[: _frame(1.9)].any() and not q[_frame(3.1):].any()  # short / -50 dBFS kept
    quiet_s = q.sum() * FRAME_STEP / SAMPLE_RATE
    assert 0.8 < quiet_s <= 1.0


def test_quiet_frames_spare_a_recording_made_with_a_low_gain():
    """Speech at -45 dBFS with pauses at -62 dBFS: the pauses are quiet for the absolute
    level but only 17 dB under the speech, so nothing is taken out; the same pauses at
    -80 dBFS are."""
    x = _chunk(_tone(2, -45), _floor(1, -62), _tone(2, -45), _floor(1, -62, 1), _tone(4, -45))
    assert not segment.quiet_frames(x[None]).any()
    y = _chunk(_tone(2, -45), _floor(1, -80), _tone(2, -45), _floor(1, -80, 1), _tone(4, -45))
    q = segment.quiet_frames(y[None])[0]
    assert q[_frame(2.2):_frame(2.85)].all() and q[_frame(5.2):_frame(5.85)].all()


def test_quiet_frames_off(monkeypatch):
    monkeypatch.setattr(segment, "QUIET_FRAME_GATE", False)
    x = _chunk(_tone(2), _floor(2, -70), _tone(2))
    assert not segment.quiet_frames(x[None]).any()


class _AlwaysOneSpeaker:
    """A segmenter that, like segmentation-3.0 on digital silence, never lets speaker 0 go."""

    def run(self, x: np.ndarray) -> np.ndarray:
        logp = np.full((x.shape[0], CHUNK_FRAMES, 7), -10.0, np.float32)
        logp[:, :, 1] = 0.0
        return logp


@pytest.mark.parametrize("gate", [True, False])
def test_segment_chunks_drops_activity_in_long_pauses(monkeypatch, gate):
    monkeypatch.setattr(segment, "QUIET_FRAME_GATE", gate)
    x = _chunk(_tone(3), _floor(1, -70), _tone(3), _floor(0.3, -70, 1), _tone(2.5))
    a = segment.segment_chunks([source.Chunk(0, x, True, CHUNK_SAMPLES)], _AlwaysOneSpeaker(),
                               runtime.ModelWorker(None), runtime.Pacer(1.5, 4, 8))[0]
    assert a[_frame(1.0):_frame(2.9), 0].all()
    assert a[_frame(7.5):_frame(9.5), 0].all()
    assert a[_frame(6.0):_frame(7.3), 0].all()  # the 0.3 s pause stays (a pause in a turn)
    assert bool(a[_frame(3.3):_frame(3.8), 0].any()) is (not gate)


def test_identify_does_not_chain_two_voices_across_digital_silence():
    """Real speech: dev conversation conv05 of the mini dev set (tests/data/devset_mini),
    turns of several voices separated by pauses at a -70 dBFS floor. Without the gate
    one hypothesis turn runs across a change of voice; with it, none does."""
    from bench.devset import load
    from engine.audio import Audio
    from engine.identify import identify

    conv = [c for c in load("mini").conversations(8, seed=0) if c.name == "conv05"][0]
    r = identify(Audio(conv.samples[None]), {})
    assert len(r.turns) >= 6
    for u in r.turns:
        voices = {s for a, b, s in conv.truth if a < u.end - 0.3 and b > u.start + 0.3}
        assert len(voices) == 1, (u, voices)
