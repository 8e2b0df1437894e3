"""Split-channel identification (engine.identify_channels) on a real two-channel call.

``tests/data/call_stereo.ogg`` puts one real voice on each channel, with overlap
(tests/_helpers_call.py holds its exact layout). The model-free tests swap
``engine.identify.identify`` for a fake to check channel lists, streaming, progress,
cancel and labels; the ``slow`` ones run the real models.
"""

from __future__ import annotations

import numpy as np
import pytest

import engine.identify as ident
from engine.audio import Audio, FileChannel, load_audio
from engine.errors import Cancelled, ValidationError
from engine.identify import ClusterInfo, IdentificationResult
from engine.identify_channels import combine, identify_channels
from engine.jobs import CancelToken
from engine.segments import ScoreTrack, Turn, is_unknown, readonly
from tests import _helpers_call as C

CALL = C.OUT


def _result(turns: list[Turn], clusters: list[tuple[str, str]], conf: list[float] | None = None,
            duration: float = 10.0) -> IdentificationResult:
    cent = readonly(np.ones(4, np.float32) / 2)
    track = None if conf is None else ScoreTrack(0.01, 0.02, np.asarray(conf, np.float32))
    return IdentificationResult(
        turns=tuple(turns), confidence=track, speaker_curves=None, speaker_ids=("alice",),
        clusters=tuple(ClusterInfo(lab, spk, 50.0, 1.0, cent) for lab, spk in clusters),
        duration=duration, model_id="m", num_speakers=len(clusters),
    )


# -- labels ---------------------------------------------------------------------------------
def test_combine_keeps_unknowns_and_clusters_apart_per_channel() -> None:
    ch0 = _result(
        [Turn(0.0, 1.0, "alice", 80.0, "SPEAKER_00"), Turn(1.0, 2.0, "UNKNOWN_00", 5.0, "SPEAKER_01")],
        [("SPEAKER_00", "alice"), ("SPEAKER_01", "UNKNOWN_00")], conf=[10, 80, 0],
    )
    ch1 = _result(
        [Turn(0.5, 1.5, "UNKNOWN_00", 3.0, "SPEAKER_00"), Turn(2.0, 3.0, "alice", 70.0, "SPEAKER_01"),
         Turn(3.0, 4.0, "UNKNOWN_01", 2.0, "SPEAKER_02")],
        [("SPEAKER_00", "UNKNOWN_00"), ("SPEAKER_01", "alice"), ("SPEAKER_02", "UNKNOWN_01")],
        conf=[50, 20, 0, 90],
    )
    r = combine([(0, ch0), (1, ch1)])
    got = [(t.start, t.speaker, t.cluster, t.channel) for t in r.turns]
    assert got == [
        (0.0, "alice", "SPEAKER_00", 0),
        (0.5, "UNKNOWN_01", "SPEAKER_02", 1),  # channel 1's UNKNOWN_00 is another person
        (1.0, "UNKNOWN_00", "SPEAKER_01", 0),
        (2.0, "alice", "SPEAKER_03", 1),  # the same enrolled person keeps the name
        (3.0, "UNKNOWN_02", "SPEAKER_04", 1),
    ]
    assert [(c.label, c.speaker) for c in r.clusters] == [
        ("SPEAKER_00", "alice"), ("SPEAKER_01", "UNKNOWN_00"), ("SPEAKER_02", "UNKNOWN_01"),
        ("SPEAKER_03", "alice"), ("SPEAKER_04", "UNKNOWN_02"),
    ]
    assert r.num_speakers == 5
    assert r.confidence is not None
    np.testing.assert_array_equal(r.confidence.values, [50, 80, 0, 90])  # frame-wise max


def test_combine_refuses_nothing_and_repeats() -> None:
    one = _result([], [])
    with pytest.raises(ValidationError):
        combine([])
    with pytest.raises(ValidationError) as e:
        combine([(0, one), (0, one)])
    assert e.value.detail == "channels.duplicate"


# -- channel lists, streaming, progress, cancel (fake identify) -------------------------------
@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list:
    seen: list = []

    def fake(audio, voiceprints, *, progress, cancel=None, **options):
        seen.append((audio, options))
        progress(0.0, "Segmenting")
        progress(0.5, "Embedding")
        if cancel is not None:
            cancel.check()
        progress(1.0, "Done")
        return _result([Turn(1.0, 2.0, "UNKNOWN_00", 0.0, "SPEAKER_00")],
                       [("SPEAKER_00", "UNKNOWN_00")])

    monkeypatch.setattr(ident, "identify", fake)
    return seen


@pytest.mark.parametrize(
    ("channels", "detail"),
    [([2], "channels.out-of-range"), ([0, 0], "channels.duplicate"), ([], "channels.empty"),
     ([-1], "channels.out-of-range"), (["0"], "channels.invalid")],
)
def test_bad_channel_lists_are_typed_errors(calls, channels, detail) -> None:
    with pytest.raises(ValidationError) as e:
        identify_channels(CALL, {}, channels=channels)
    assert e.value.detail == detail and e.value.location == "channels"
    assert calls == []  # refused before any identification


def test_a_file_is_streamed_one_channel_at_a_time(calls) -> None:
    marks: list[tuple[float, str]] = []
    r = identify_channels(CALL, {}, channels=[1, 0], num_speakers=1,
                          progress=lambda f, m="": marks.append((f, m)))
    assert [a for a, _ in calls] == [FileChannel(str(CALL), 1), FileChannel(str(CALL), 0)]
    assert all(opts == {"num_speakers": 1} for _, opts in calls)
    fractions = [f for f, _ in marks]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert ("Channel 1 (1 of 2): Embedding") in [m for _, m in marks]
    assert any(f == pytest.approx(0.75) and m.startswith("Channel 0 (2 of 2)") for f, m in marks)
    # unknowns are numbered in the order the channels were given
    assert [(t.channel, t.speaker) for t in r.turns] == [(0, "UNKNOWN_01"), (1, "UNKNOWN_00")]


def test_cancel_stops_between_and_inside_channels(calls) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        identify_channels(CALL, {}, cancel=token)
    assert calls == []
    token = CancelToken()

    def progress(f: float, m: str = "") -> None:
        if m.startswith("Channel 1"):
            token.cancel()

    with pytest.raises(Cancelled):
        identify_channels(CALL, {}, cancel=token, progress=progress)
    assert len(calls) == 2  # the second channel was cancelled inside its identification


def test_split_audio_rows_are_the_channels(calls) -> None:
    audio = load_audio(CALL, channel_mode="split")
    identify_channels(audio, {}, channels=[1])
    (a, _), = calls
    assert isinstance(a, Audio) and a.num_channels == 1
    np.testing.assert_array_equal(a.samples[0], audio.samples[1])


def test_file_channel_blocks_match_the_decoded_channel() -> None:
    whole = load_audio(CALL, channel_mode="split").samples
    for ch in (0, 1):
        blocks, total, duration = ident._source_blocks(FileChannel(str(CALL), ch))
        parts = list(blocks)
        assert all(p.ndim == 1 for p in parts)
        np.testing.assert_array_equal(np.concatenate(parts), whole[ch])
        assert total == whole.shape[1] and duration == pytest.approx(C.SECONDS)
    # blocks of a bounded size, whatever the length of the file
    sizes = [b.shape[0] for b in FileChannel(str(CALL), 0).blocks(4.0)]
    assert max(sizes) == 4 * 16000 and len(sizes) == 5


def test_the_call_file_is_what_its_builder_makes() -> None:
    """The committed file holds one voice per channel, as tests/_helpers_call.py says."""
    x = load_audio(CALL, channel_mode="split").samples
    assert x.shape == (2, int(C.SECONDS * 16000)) and CALL.stat().st_size < 300_000
    for ch in (0, 1):
        for a, b in C.truth(ch):
            inside = x[:, int(a * 16000) + 800 : int(b * 16000) - 800]
            assert np.sqrt(np.mean(inside[ch] ** 2)) > 0.01
        silent = np.ones(x.shape[1], bool)
        for a, b in C.truth(ch):
            silent[int(a * 16000) : int(b * 16000)] = False
        assert np.abs(x[ch, silent]).max() < 0.02  # only the noise floor off its stretches


# -- real models ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def voiceprints():
    from engine.encoder import default_encoder
    from engine.voiceprint import Voiceprint

    enc = default_encoder()
    return {C.NAMES[ch]: Voiceprint(enc.embed(C.enrollment_clip(ch)[None])[0], enc.model_id)
            for ch in (0, 1)}


def _covered(turns: list[Turn], a: float, b: float) -> float:
    return sum(max(0.0, min(b, t.end) - max(a, t.start)) for t in turns) / (b - a)


@pytest.mark.slow
def test_split_names_each_channel_with_its_voice(voiceprints) -> None:
    r = identify_channels(CALL, voiceprints)
    assert {t.channel for t in r.turns} == {0, 1}
    for ch in (0, 1):
        mine = [t for t in r.turns if t.channel == ch]
        assert {t.speaker for t in mine} == {C.NAMES[ch]}, mine
        for a, b in C.truth(ch):
            # the stretches include their pauses and trailing breath: most, not all, is speech
            assert _covered(mine, a, b) > 0.6
        assert _covered(mine, *C.truth(1 - ch)[0]) < 0.3  # not where the other party talks
    # the overlap (6.2-6.6 s) is speech on both channels at once
    assert any(t.channel == 0 and t.end > 6.4 for t in r.turns)
    assert any(t.channel == 1 and t.start < 6.4 for t in r.turns)
    assert len({t.cluster for t in r.turns}) == 2 and r.num_speakers == 2
    assert r.confidence is not None and r.confidence.values.max() > 50


@pytest.mark.slow
def test_split_unknowns_stay_apart(voiceprints) -> None:
    """With an empty library both parties are unknown, under two different labels."""
    r = identify_channels(CALL, {}, confidence=False)
    labels = {ch: {t.speaker for t in r.turns if t.channel == ch} for ch in (0, 1)}
    assert all(len(v) == 1 and is_unknown(next(iter(v))) for v in labels.values())
    assert labels[0] != labels[1]


@pytest.mark.slow
def test_mix_mode_is_unchanged(voiceprints) -> None:
    r = ident.identify(CALL, voiceprints)
    assert r.turns and all(t.channel is None for t in r.turns)
    assert {t.speaker for t in r.turns} <= set(C.NAMES.values())
