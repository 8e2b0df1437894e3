"""Formats: golden output and round trips for JSON (pyannoteAI shape), RTTM, CSV, Audacity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine import formats
from engine.errors import ValidationError
from engine.identify import ClusterInfo, IdentificationResult
from engine.segments import ScoreTrack, Turn, readonly

TURNS = (
    Turn(0.5, 2.25, "alice", 81.234, "SPEAKER_00"),
    Turn(2.0, 3.0, "UNKNOWN_00", 12.5, "SPEAKER_01"),
    Turn(3.5, 7.125, "alice", 81.234, "SPEAKER_00"),
)


def _result() -> IdentificationResult:
    conf = ScoreTrack(0.01, 0.02, readonly(np.array([0, 80.4, 79.6, 0], np.float32)))
    cent = readonly(np.ones(4, np.float32) / 2)
    clusters = (
        ClusterInfo("SPEAKER_00", "alice", 81.23, 5.375, cent, (("alice", 81.23), ("bob", 20.0))),
        ClusterInfo("SPEAKER_01", "UNKNOWN_00", 12.5, 1.0, cent, (("bob", 12.5),)),
    )
    return IdentificationResult(TURNS, conf, None, (), clusters, 8.0, "m", 2)


def test_json_golden_shape():
    d = json.loads(formats.to_json(_result()))
    assert d["identification"][0] == {
        "speaker": "alice",
        "start": 0.5,
        "end": 2.25,
        "diarizationSpeaker": "SPEAKER_00",
        "match": "alice",
        "score": 81.23,
    }
    assert d["identification"][1]["match"] is None
    assert d["identification"][1]["speaker"] == "UNKNOWN_00"
    assert d["diarization"][1] == {"speaker": "SPEAKER_01", "start": 2.0, "end": 3.0}
    assert d["voiceprints"] == [
        {"speaker": "SPEAKER_00", "match": "alice", "confidence": {"alice": 81.23, "bob": 20.0}},
        {"speaker": "SPEAKER_01", "match": None, "confidence": {"bob": 12.5}},
    ]
    assert d["confidence"] == {"score": [0, 80, 80, 0], "resolution": 0.02}


def test_json_round_trip():
    turns, track = formats.from_json(formats.to_json(_result()))
    assert tuple(turns) == tuple(
        Turn(t.start, t.end, t.speaker, round(t.score, 2), t.cluster) for t in TURNS
    )
    assert track is not None and track.step == 0.02 and track.start == 0.01
    np.testing.assert_array_equal(track.values, [0, 80, 80, 0])
    # a job object with the output inside, and plain turns without confidence
    turns2, track2 = formats.from_json({"output": json.loads(formats.to_json(list(TURNS)))})
    assert [t.speaker for t in turns2] == [t.speaker for t in TURNS] and track2 is None


def test_rttm_golden_and_round_trip():
    text = formats.to_rttm(_result(), uri="my file")
    assert text.splitlines()[0] == "SPEAKER my_file 1 0.500 1.750 <NA> <NA> alice <NA> <NA>"
    back = formats.from_rttm(text)
    assert [(t.start, t.end, t.speaker) for t in back] == [
        (t.start, t.end, t.speaker) for t in TURNS
    ]


def test_rttm_reads_the_pyannote_reference(data_dir: Path):
    turns = formats.from_rttm((data_dir / "pyannote_sample.rttm").read_text())
    assert len(turns) == 10 and {t.speaker for t in turns} == {"speaker90", "speaker91"}
    assert turns[0].start == pytest.approx(6.69) and turns[0].end == pytest.approx(7.12)


def test_csv_golden_and_round_trip():
    text = formats.to_csv(_result())
    lines = text.splitlines()
    assert lines[0] == "start,end,duration,speaker,cluster,score"
    assert lines[1] == "0.500,2.250,1.750,alice,SPEAKER_00,81.23"
    back = formats.from_csv(text)
    assert [(t.start, t.end, t.speaker, t.cluster) for t in back] == [
        (t.start, t.end, t.speaker, t.cluster) for t in TURNS
    ]
    assert back[0].score == pytest.approx(81.23)


def test_audacity_golden_and_round_trip():
    text = formats.to_audacity(TURNS)
    assert text.splitlines()[0] == "0.500000\t2.250000\talice"
    # Audacity's spectral selection lines are skipped
    text2 = text.replace("alice\n", "alice\n\\\t100.0\t2000.0\n", 1)
    back = formats.from_audacity(text2)
    assert [(t.start, t.end, t.speaker) for t in back] == [
        (t.start, t.end, t.speaker) for t in TURNS
    ]


@pytest.mark.parametrize("suffix", [".json", ".rttm", ".csv", ".txt"])
def test_write_and_read_files(tmp_path: Path, suffix: str):
    p = formats.write(_result(), tmp_path / f"out{suffix}")
    back = formats.read(p)
    assert [(t.start, t.end, t.speaker) for t in back] == [
        (t.start, t.end, t.speaker) for t in TURNS
    ]
    assert [x.name for x in tmp_path.iterdir()] == [p.name]  # no temporary left behind


def test_interrupted_write_leaves_old_file(tmp_path: Path, monkeypatch):
    p = formats.write(TURNS, tmp_path / "out.csv")
    before = p.read_text()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(formats.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        formats.write(TURNS[:1], p)
    assert p.read_text() == before
    assert [x.name for x in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.parametrize(
    ("fn", "text"),
    [
        (formats.from_json, "{not json"),
        (formats.from_json, '{"identification": [{"start": 1, "end": 0.5, "speaker": "a"}]}'),
        (formats.from_json, '{"identification": [{"start": "x", "end": 2, "speaker": "a"}]}'),
        (formats.from_rttm, "SPEAKER f 1 0.0"),
        (formats.from_rttm, "SPEAKER f 1 nan 1.0 <NA> <NA> a <NA> <NA>"),
        (formats.from_csv, "a,b\n1,2\n"),
        (formats.from_csv, "start,end,speaker\n1,0,a\n"),
        (formats.from_audacity, "1.0\n"),
        (formats.from_audacity, "1.0\t2.0\t \n"),
    ],
)
def test_bad_input_gives_typed_errors(fn, text):
    with pytest.raises(ValidationError):
        fn(text)


def test_unknown_format_and_suffix(tmp_path: Path):
    with pytest.raises(ValidationError):
        formats.write(TURNS, tmp_path / "x.doc")
    with pytest.raises(ValidationError):
        formats.dumps(TURNS, "xml")
    with pytest.raises(ValidationError):
        formats.to_csv(["not a turn"])


# -- channels (split-channel identification) ------------------------------------------------
SPLIT_TURNS = (
    Turn(0.5, 2.25, "alice", 81.23, "SPEAKER_00", 0),
    Turn(2.0, 3.0, "UNKNOWN_00", 12.5, "SPEAKER_01", 1),
    Turn(3.5, 7.125, "alice", 81.23, "SPEAKER_00", 0),
    Turn(4.0, 5.0, "alice", 70.0, "SPEAKER_02", 1),
)


def _split_result() -> IdentificationResult:
    cent = readonly(np.ones(4, np.float32) / 2)
    clusters = (
        ClusterInfo("SPEAKER_00", "alice", 81.23, 5.375, cent, (("alice", 81.23),)),
        ClusterInfo("SPEAKER_01", "UNKNOWN_00", 12.5, 1.0, cent, (("alice", 12.5),)),
        ClusterInfo("SPEAKER_02", "alice", 70.0, 1.0, cent, (("alice", 70.0),)),
    )
    return IdentificationResult(SPLIT_TURNS, None, None, (), clusters, 8.0, "m", 3)


def test_json_channel_field_and_round_trip():
    d = json.loads(formats.to_json(_split_result()))
    assert [i["channel"] for i in d["identification"]] == [0, 1, 0, 1]
    assert [i["channel"] for i in d["diarization"]] == [0, 1, 0, 1]
    assert [v["channel"] for v in d["voiceprints"]] == [0, 1, 1]
    turns, _ = formats.from_json(formats.to_json(_split_result()))
    assert tuple(turns) == SPLIT_TURNS
    # a mix result has no channel key at all (output as before)
    assert "channel" not in json.loads(formats.to_json(_result()))["identification"][0]
    assert all(t.channel is None for t in formats.from_json(formats.to_json(_result()))[0])


def test_rttm_channel_column_is_one_based():
    text = formats.to_rttm(SPLIT_TURNS, uri="call")
    assert [line.split()[2] for line in text.splitlines()] == ["1", "2", "1", "2"]
    back = formats.from_rttm(text)
    assert [(t.start, t.end, t.speaker, t.channel) for t in back] == [
        (t.start, t.end, t.speaker, t.channel) for t in SPLIT_TURNS
    ]
    # mix: channel 1 as before, read back without channels
    assert all(t.channel is None for t in formats.from_rttm(formats.to_rttm(_result())))


def test_csv_channel_column_round_trip():
    text = formats.to_csv(_split_result())
    lines = text.splitlines()
    assert lines[0] == "start,end,duration,speaker,cluster,score,channel"
    assert lines[2] == "2.000,3.000,1.000,UNKNOWN_00,SPEAKER_01,12.50,1"
    back = formats.from_csv(text)
    assert [(t.speaker, t.cluster, t.channel) for t in back] == [
        (t.speaker, t.cluster, t.channel) for t in SPLIT_TURNS
    ]


@pytest.mark.parametrize("suffix", [".json", ".rttm", ".csv"])
def test_write_and_read_files_keep_channels(tmp_path: Path, suffix: str):
    back = formats.read(formats.write(_split_result(), tmp_path / f"out{suffix}"))
    assert [(t.start, t.speaker, t.channel) for t in back] == [
        (t.start, t.speaker, t.channel) for t in SPLIT_TURNS
    ]


@pytest.mark.parametrize(
    ("fn", "text"),
    [
        (formats.from_json, '{"identification": [{"start": 0, "end": 1, "speaker": "a", '
                            '"channel": -1}]}'),
        (formats.from_json, '{"identification": [{"start": 0, "end": 1, "speaker": "a", '
                            '"channel": "left"}]}'),
        (formats.from_json, '{"identification": [{"start": 0, "end": 1, "speaker": "a", '
                            '"channel": 1.5}]}'),
        (formats.from_rttm, "SPEAKER f 0 0.0 1.0 <NA> <NA> a <NA> <NA>"),
        (formats.from_csv, "start,end,speaker,channel\n0,1,a,x\n"),
    ],
)
def test_bad_channels_give_typed_errors(fn, text):
    with pytest.raises(ValidationError):
        fn(text)


def _explained_result() -> IdentificationResult:
    base = _result()
    cent = base.clusters[0].centroid
    clusters = (
        ClusterInfo("SPEAKER_00", "alice", 81.23, 5.375, cent, (("alice", 81.23), ("bob", 20.0)),
                    candidates=(("alice", 81.23, 6.104), ("bob", 20.0, -0.5), ("carol", 3.0, None)),
                    margin=61.23, reason="named"),
        ClusterInfo("SPEAKER_01", "UNKNOWN_00", 62.5, 1.0, cent, (("bob", 62.5),),
                    candidates=(("bob", 62.5, 1.2),), margin=2.0, reason="not-distinct"),
        ClusterInfo("SPEAKER_02", "UNKNOWN_01", 0.0, 1.0, cent, (), candidates=(), margin=None,
                    reason="no-voiceprints"),
    )
    return IdentificationResult(base.turns, base.confidence, None, (), clusters, 8.0, "m", 3)


def test_json_explanations_round_trip():
    r = _explained_result()
    d = json.loads(formats.to_json(r))
    assert d["voiceprints"][0]["candidates"][0] == {
        "match": "alice", "score": 81.23, "normalizedScore": 6.1}
    assert d["voiceprints"][0]["margin"] == 61.23 and d["voiceprints"][0]["reason"] == "named"
    assert d["voiceprints"][0]["candidates"][2]["normalizedScore"] is None
    back = formats.clusters_from_json(formats.to_json(r))
    assert [b.label for b in back] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]
    assert back[0].match == "alice" and back[1].match is None
    assert back[0].candidates == (("alice", 81.23, 6.1), ("bob", 20.0, -0.5), ("carol", 3.0, None))
    assert back[1].margin == 2.0 and back[1].reason == "not-distinct"
    assert back[2].candidates == () and back[2].margin is None
    # a result without explanations reads back with empty ones
    plain = formats.clusters_from_json(formats.to_json(_result()))
    assert [p.reason for p in plain] == ["", ""] and plain[0].candidates == ()
    assert formats.clusters_from_json({"identification": []}) == []


def test_json_explanations_reject_bad_values():
    d = json.loads(formats.to_json(_explained_result()))
    d["voiceprints"][0]["candidates"][0]["score"] = "high"
    with pytest.raises(ValidationError):
        formats.clusters_from_json(d)
    d["voiceprints"][0]["candidates"] = {"alice": 1}
    with pytest.raises(ValidationError):
        formats.clusters_from_json(d)
