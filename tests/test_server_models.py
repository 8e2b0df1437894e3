"""The local HTTP API with the real models: the same turns as ``vpstudio identify``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from engine import cli
from engine.library import Library
from engine.server.app import ServerConfig
from engine.voiceprint import Voiceprint
from tests._helpers_server import serve, webhook_receiver

DATA = Path(__file__).parent / "data"
TOKEN = "test-token-" + "z" * 24

pytestmark = pytest.mark.slow


def _enroll_sample_speaker() -> None:
    import soundfile as sf

    from engine.encoder import default_encoder

    # the speaker of 7.6-10.0 s (alone there in the reference RTTM), as test_cli does
    samples, sr = sf.read(DATA / "pyannote_sample.wav", dtype="float32")
    encoder = default_encoder()
    vector = encoder.embed(samples[None, int(7.6 * sr): int(10.0 * sr)])[0]
    with Library() as lib:
        lib.enroll("Sample Speaker", Voiceprint(vector, encoder.model_id), 2.4, "sample.wav")


def test_identify_job_matches_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    _enroll_sample_speaker()
    wav = DATA / "pyannote_sample.wav"
    assert cli.main(["--json", "identify", str(wav), "--speakers", "2"]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert "Sample Speaker" in {t["speaker"] for t in expected["identification"]}
    with webhook_receiver() as hook, serve(ServerConfig(token=TOKEN)) as srv:
        r = srv.client.post("/v1/identify", json={
            "content": base64.b64encode(wav.read_bytes()).decode(), "numSpeakers": 2,
            "confidence": True, "webhook": hook.url})
        assert r.status_code == 202, r.text
        job = srv.wait(r.json()["jobId"], timeout=600)
        assert job["status"] == "succeeded", job
        out = job["output"]
        assert out["identification"] == expected["identification"]
        assert out["diarization"] == expected["diarization"]
        assert out["voiceprints"] == expected["voiceprints"]
        assert out["confidence"]["resolution"] == 0.02 and out["confidence"]["score"]
        assert hook.got.wait(30)
        assert json.loads(hook.bodies[-1][0])["output"] == out
        # the DeepAffects label style names the unknown speaker UserNotIdentified
        r = srv.client.post("/v1/identify", json={"url": f"file://{wav}", "numSpeakers": 2,
                                                  "labelStyle": "deepaffects"})
        styled = srv.wait(r.json()["jobId"], timeout=600)["output"]
        labels = [t["speaker"] for t in styled["identification"]]
        assert "UserNotIdentified" in labels and "Sample Speaker" in labels
        assert "confidence" not in styled


def test_voiceprint_job_and_compare() -> None:
    wav = DATA / "arctic_slt_a0009.wav"
    with serve(ServerConfig(token=TOKEN)) as srv:
        r = srv.client.post("/v1/voiceprint", json={"url": str(wav)})
        assert r.status_code == 202, r.text
        job = srv.wait(r.json()["jobId"], timeout=600)
        assert job["status"] == "succeeded", job
        item = job["output"]["voiceprints"][0]
        vp = Voiceprint.from_base64(item["voiceprint"])
        assert vp.model_id == job["output"]["modelId"]
        assert item["quality"]["net_speech_s"] > 0 and item["quality"]["verdict"]
        r = srv.client.post("/v1/compare", json={"a": [item["voiceprint"]],
                                                 "b": [item["voiceprint"]]})
        assert r.json()["cosine"][0][0] == pytest.approx(1.0, abs=1e-4)
        # split mode on a mono file: channel 0 only
        r = srv.client.post("/v1/voiceprint", json={"url": str(wav), "channelMode": "split"})
        out = srv.wait(r.json()["jobId"], timeout=600)
        assert out["status"] == "succeeded", out
        assert [v["channel"] for v in out["output"]["voiceprints"]] == [0]
