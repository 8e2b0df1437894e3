"""The local HTTP API without models: a real uvicorn server on 127.0.0.1, fake engine jobs.

The engine calls behind the jobs are replaced (``engine.server.tasks``) so these tests
check the API itself: auth, typed errors and codes, the job life cycle, cancel, the
bounded queue, webhooks, restart. tests/test_server_models.py runs the real models.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.encoder import ECAPA_MODEL_ID
from engine.library import Library
from engine.server import auth, tasks
from engine.server.app import ServerConfig
from engine.server.jobs_store import JobStore
from engine.voiceprint import Voiceprint
from tests._helpers_server import serve, webhook_receiver

TOKEN = "test-token-" + "y" * 24
WAV = Path(__file__).parent / "data" / "arctic_slt_a0009.wav"
BLOCK_S = 30.0  # a "blocking" fake job gives up after this long (bounded loop)


def config(**kw: Any) -> ServerConfig:
    kw.setdefault("token", TOKEN)
    return ServerConfig(**kw)


def unit_vp(rng: np.random.Generator, model: str = ECAPA_MODEL_ID) -> Voiceprint:
    v = rng.standard_normal(192).astype(np.float32)
    return Voiceprint((v / np.linalg.norm(v)).astype(np.float32), model)


class FakeJobs:
    """Stands in for tasks.identify_job / voiceprint_job; records what the app passed."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.block = False
        self.started = threading.Event()

    def identify_job(self, path: Path, voiceprints: dict[str, Any], **kw: Any) -> Any:
        self.calls.append({"path": path, "voiceprints": dict(voiceprints), **kw})
        block = self.block

        def run(progress: Any, cancel: Any) -> dict[str, Any]:
            assert Path(path).is_file()  # uploads exist while their job runs
            self.started.set()
            if block:
                steps = int(BLOCK_S / 0.02)
                for i in range(steps):
                    progress(i / steps, "Working")  # raises Cancelled once canceled
                    time.sleep(0.02)
            progress(0.5, "Half")
            doc = {"identification": [{"speaker": "UNKNOWN_00", "start": 0.0, "end": 1.0,
                                       "diarizationSpeaker": "SPEAKER_00", "match": None,
                                       "score": 3.0}], "diarization": []}
            return tasks.apply_label_style(doc, kw["label_style"])

        return run


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(17)


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeJobs:
    jobs = FakeJobs()
    monkeypatch.setattr(tasks, "identify_job", jobs.identify_job)
    return jobs


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


# -- auth ---------------------------------------------------------------------------------------
def test_requests_need_the_token(fake: FakeJobs) -> None:
    with serve(config()) as srv:
        c = srv.client
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Basic {TOKEN}"}):
            r = c.get("/v1/jobs", headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"]["type"] == "auth.unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
        r = c.post("/v1/identify", json={"url": str(WAV)}, headers={"Authorization": ""})
        assert r.status_code == 401 and not fake.calls  # nothing was submitted
        assert c.get("/v1/jobs").status_code == 200
        assert c.get("/docs", headers={"Authorization": ""}).status_code == 200
        spec = c.get("/openapi.json").json()
        assert {"/v1/identify", "/v1/voiceprint", "/v1/compare", "/v1/jobs/{job_id}",
                "/v1/speakers"} <= set(spec["paths"])


def test_token_is_made_once_and_private(vp_home: Path) -> None:
    token = auth.load_or_create_token()
    path = auth.token_path()
    assert path.parent == vp_home and len(token) >= 40
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert auth.load_or_create_token() == token
    body = b'{"a": 1}'
    assert auth.verify(body, auth.sign(body, token), token)
    assert not auth.verify(body + b" ", auth.sign(body, token), token)


def test_cli_print_token(capsys: pytest.CaptureFixture[str]) -> None:
    from engine import cli

    assert cli.main(["serve", "--print-token"]) == 0
    assert capsys.readouterr().out.strip() == auth.load_or_create_token()


# -- typed errors ---------------------------------------------------------------------------
def test_validation_errors_are_typed_400(fake: FakeJobs, tmp_path: Path) -> None:
    with serve(config()) as srv:
        c = srv.client
        cases: list[tuple[dict[str, Any], str | None]] = [
            ({}, "url"),
            ({"url": str(WAV), "content": b64(WAV)}, "url"),
            ({"url": "https://example.com/a.wav"}, "url"),
            ({"url": "file://otherhost/a.wav"}, "url"),
            ({"content": "not base64!!"}, "content"),
            ({"url": str(WAV), "webhook": "http://example.com/hook"}, "webhook"),
            ({"url": str(WAV), "webhook": "ftp://127.0.0.1/hook"}, "webhook"),
            ({"url": str(WAV), "channels": [0]}, "channels"),
            ({"url": str(WAV), "minSpeakers": 3, "maxSpeakers": 2}, "minSpeakers"),
            ({"url": str(WAV), "numSpeakers": 0}, "numSpeakers"),
            ({"url": str(WAV), "labelStyle": "other"}, "labelStyle"),
            ({"url": str(WAV), "surprise": 1}, "surprise"),
            ({"url": str(WAV), "voiceprints": [{"label": "a", "voiceprint": "AAAA"}]},
             "voiceprints[0]"),
            ({"url": str(WAV), "voiceprints": [], "speakerIds": []}, "voiceprints"),
        ]
        for body, location in cases:
            r = c.post("/v1/identify", json=body)
            assert r.status_code == 400, (body, r.text)
            err = r.json()["error"]
            assert err["type"] in ("request.validation-error", "voiceprint.invalid"), body
            assert err["location"] == location, (body, err)
        r = c.post("/v1/identify", content=b"{not json", headers={"Content-Type":
                                                                  "application/json"})
        assert r.status_code == 400
        assert r.json()["error"]["type"] == "request.validation-error"
        assert not fake.calls


def test_size_limits_are_413(fake: FakeJobs, tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    with big.open("wb") as f:  # sparse: 101 MiB on paper, nothing on disk
        f.truncate(101 * 1024 * 1024)
    with serve(config()) as srv:
        c = srv.client
        r = c.post("/v1/voiceprint", json={"url": str(big)})
        assert r.status_code == 413
        err = r.json()["error"]
        assert err["type"] == "request.size-limit-exceeded" and err["detail"] == "media.too-large"
        assert err["context"]["max_file_size"] == 100 * 1024 * 1024
        r = c.post("/v1/compare", json={"a": ["x"] * 50_001, "b": ["x"]})
        assert r.status_code == 413 and r.json()["error"]["location"] == "a"
        r = c.post("/v1/compare", json={"a": ["x"] * 1001, "b": ["x"] * 1000})
        assert r.status_code == 413 and r.json()["error"]["context"]["max_product"] == 1_000_000
        # a body announced larger than any allowed input is refused before it is read
        host, port = srv.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall((f"POST /v1/identify HTTP/1.1\r\nHost: {host}\r\n"
                          f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json"
                          f"\r\nContent-Length: {2 * 1024**3}\r\n\r\n{{").encode())
            answer = b""
            for _ in range(50):  # the status line and the body may come in separate packets
                chunk = sock.recv(65536)
                answer += chunk
                if not chunk or b"size-limit" in answer:
                    break
        text = answer.decode("latin-1")
        assert text.startswith("HTTP/1.1 413"), text
        assert "request.size-limit-exceeded" in text


def test_missing_media_is_422_and_unknown_job_404(fake: FakeJobs, tmp_path: Path) -> None:
    with serve(config()) as srv:
        c = srv.client
        r = c.post("/v1/identify", json={"url": str(tmp_path / "nope.wav")})
        assert r.status_code == 422 and r.json()["error"]["type"] == "media.unreadable"
        r = c.get("/v1/jobs/0123")
        assert r.status_code == 404 and r.json()["error"]["type"] == "resource.not-found"
        assert c.delete("/v1/jobs/0123").status_code == 404
        r = c.post("/v1/identify", json={"url": str(WAV), "speakerIds": ["Nobody"]})
        assert r.status_code == 404 and r.json()["error"]["location"] == "speakerIds[0]"
        assert c.get("/v1/nowhere").json()["error"]["type"] == "resource.not-found"


# -- the job life cycle -----------------------------------------------------------------------
def test_submit_poll_succeeds_and_lists(fake: FakeJobs, rng: np.random.Generator) -> None:
    with Library() as lib:
        lib.enroll("Ada", unit_vp(rng), 5.0, "a.wav")
    with serve(config()) as srv:
        c = srv.client
        r = c.post("/v1/identify", json={"content": b64(WAV), "numSpeakers": 2,
                                         "threshold": 40, "confidence": True,
                                         "labelStyle": "deepaffects"})
        assert r.status_code == 202, r.text
        job = r.json()
        # the fake job is instant: it may have ended before the answer was written
        assert job["status"] in ("pending", "running", "succeeded") and job["createdAt"]
        done = srv.wait(job["jobId"])
        assert done["status"] == "succeeded" and done["progress"] == 1.0
        assert done["startedAt"] and done["finishedAt"] >= done["startedAt"]
        assert done["output"]["identification"][0]["speaker"] == "UserNotIdentified"
        call = fake.calls[0]
        assert call["options"] == {"num_speakers": 2, "threshold": 40.0}
        assert call["confidence"] is True and list(call["voiceprints"]) == ["Ada"]
        assert not call["path"].exists()  # the upload is removed when its job ends
        ids = [c.post("/v1/identify", json={"url": str(WAV), "speakerIds": ["ada"]}).json()
               ["jobId"] for _ in range(3)]
        assert list(fake.calls[-1]["voiceprints"]) == ["Ada"]
        for i in ids:
            srv.wait(i)
        page = c.get("/v1/jobs", params={"limit": 2}).json()
        assert page["total"] == 4 and [j["jobId"] for j in page["items"]] == ids[::-1][:2]
        assert "output" not in page["items"][0]
        page2 = c.get("/v1/jobs", params={"limit": 2, "offset": 2}).json()
        assert [j["jobId"] for j in page2["items"]] == [ids[0], job["jobId"]]
        assert c.get("/v1/jobs", params={"limit": 0}).status_code == 400


def test_cancel_running_and_pending(fake: FakeJobs) -> None:
    fake.block = True
    with serve(config(workers=1)) as srv:
        c = srv.client
        running = c.post("/v1/identify", json={"url": str(WAV)}).json()["jobId"]
        waiting = c.post("/v1/identify", json={"url": str(WAV)}).json()["jobId"]
        assert fake.started.wait(10)
        rec = srv.wait(running, until=lambda r: r["progress"] > 0, timeout=10)
        assert rec["status"] == "running"
        assert c.get(f"/v1/jobs/{waiting}").json()["status"] == "pending"
        for job_id in (waiting, running):
            r = c.delete(f"/v1/jobs/{job_id}")
            assert r.status_code == 200 and r.json()["status"] == "canceled"
        assert srv.wait(running)["status"] == "canceled"
        r = c.delete(f"/v1/jobs/{running}")
        assert r.status_code == 409 and r.json()["error"]["type"] == "resource.conflict"
        fake.block = False  # the worker is free again: a new job runs to the end
        new = c.post("/v1/identify", json={"url": str(WAV)}).json()["jobId"]
        assert srv.wait(new)["status"] == "succeeded"
        assert c.get(f"/v1/jobs/{waiting}").json()["status"] == "canceled"  # never ran


def test_a_full_queue_answers_503(fake: FakeJobs) -> None:
    fake.block = True
    with serve(config(workers=1, max_queued=1)) as srv:
        c = srv.client
        first = c.post("/v1/identify", json={"url": str(WAV)}).json()["jobId"]
        assert fake.started.wait(10)
        second = c.post("/v1/identify", json={"url": str(WAV)})
        assert second.status_code == 202
        r = c.post("/v1/identify", json={"url": str(WAV)})
        assert r.status_code == 503 and r.json()["error"]["type"] == "server.busy"
        assert c.get("/v1/jobs").json()["total"] == 2  # the refused job left no record
        c.delete(f"/v1/jobs/{second.json()['jobId']}")
        c.delete(f"/v1/jobs/{first}")


# -- webhooks -----------------------------------------------------------------------------------
def test_webhook_is_signed_and_retried(fake: FakeJobs) -> None:
    with webhook_receiver(fail_first=2) as hook, serve(config(webhook_backoff_s=0.05)) as srv:
        job_id = srv.client.post("/v1/identify", json={"url": str(WAV), "webhook": hook.url}
                                 ).json()["jobId"]
        assert hook.got.wait(20)
        body, headers = hook.bodies[-1]
        assert len(hook.bodies) == 3  # two 500s, then delivered
        assert auth.verify(body, headers[auth.SIGNATURE_HEADER.lower()], srv.token)
        assert not auth.verify(body, headers[auth.SIGNATURE_HEADER.lower()], "other")
        payload = json.loads(body)
        assert payload["jobId"] == job_id and payload["status"] == "succeeded"
        assert payload["output"]["identification"]
        rec = srv.wait(job_id, until=lambda r: r["webhook"]["state"] == "delivered", timeout=10)
        assert rec["webhook"]["state"] == "delivered" and rec["webhook"]["attempts"] == 3


def test_webhook_gives_up_after_five_retries(fake: FakeJobs) -> None:
    with webhook_receiver(fail_first=100) as hook, serve(config(webhook_backoff_s=0.01)) as srv:
        job_id = srv.client.post("/v1/identify", json={"url": str(WAV), "webhook": hook.url}
                                 ).json()["jobId"]
        rec = srv.wait(job_id, until=lambda r: r["webhook"]["state"] == "failed", timeout=20)
        assert rec["webhook"] == {"url": hook.url, "state": "failed", "attempts": 6,
                                  "lastError": "HTTP 500", "lastStatus": 500}
        assert len(hook.bodies) == 6


def test_webhook_to_an_allowed_host(fake: FakeJobs) -> None:
    with serve(config(allowed_webhook_hosts=("hooks.example",))) as srv:
        r = srv.client.post("/v1/identify", json={"url": str(WAV),
                                                  "webhook": "http://hooks.example/x"})
        assert r.status_code == 202
        assert r.json()["webhook"] == {"url": "http://hooks.example/x", "state": "pending",
                                       "attempts": 0}


# -- restart --------------------------------------------------------------------------------
def test_restart_keeps_results_and_interrupts_running(fake: FakeJobs, vp_home: Path) -> None:
    with serve(config()) as srv:
        done = srv.client.post("/v1/identify", json={"url": str(WAV)}).json()["jobId"]
        assert srv.wait(done)["status"] == "succeeded"
        fake.block = True
        running = srv.client.post("/v1/identify", json={"url": str(WAV)}).json()["jobId"]
        srv.wait(running, until=lambda r: r["status"] == "running", timeout=10)
    assert stat.S_IMODE(os.stat(vp_home / "jobs.sqlite3").st_mode) == 0o600
    fake.block = False
    with serve(config()) as srv:
        rec = srv.client.get(f"/v1/jobs/{done}").json()
        assert rec["status"] == "succeeded" and rec["output"]["identification"]
        rec = srv.client.get(f"/v1/jobs/{running}").json()
        assert rec["status"] == "failed" and rec["error"]["type"] == "job.interrupted"


def test_a_crashed_server_jobs_are_interrupted_at_start(vp_home: Path) -> None:
    store = JobStore()
    running, pending, ended = store.create("identify"), store.create("identify"), \
        store.create("identify")
    assert store.start(running)
    assert store.finish(ended, "succeeded", output={"x": 1})
    # no shutdown: the process "died" here
    again = JobStore()
    assert again.interrupt_active() == 2
    for job_id in (running, pending):
        rec = again.get(job_id)
        assert rec is not None and rec["status"] == "failed"
        assert rec["error"]["type"] == "job.interrupted"
    assert (again.get(ended) or {})["output"] == {"x": 1}
    assert not again.finish(running, "succeeded")  # an ended job stays ended
    store.close()
    again.close()


def test_old_results_are_pruned(vp_home: Path) -> None:
    store = JobStore()
    old, active = store.create("identify"), store.create("identify")
    store.finish(old, "succeeded", output={})
    time.sleep(0.05)
    assert store.prune(3600) == 0
    assert store.prune(0.01) == 1
    assert store.get(old) is None and store.get(active) is not None
    store.close()


# -- speakers and compare -------------------------------------------------------------------
def test_speakers_hide_vectors_unless_asked(fake: FakeJobs, rng: np.random.Generator) -> None:
    with Library() as lib:
        vp = unit_vp(rng)
        lib.enroll("Ada", vp, 5.0, "a.wav")
        lib.enroll("Ada", unit_vp(rng), 4.0, "b.wav")
        lib.add_speaker("Empty")
        expected = lib.voiceprint(lib.get_by_name("Ada").id)
    with serve(config()) as srv:
        data = srv.client.get("/v1/speakers").json()
        ada = next(s for s in data["speakers"] if s["name"] == "Ada")
        assert ada["num_enrollments"] == 2 and ada["seconds"] == pytest.approx(9.0)
        assert "voiceprint" not in json.dumps(data)
        data = srv.client.get("/v1/speakers", params={"include": "voiceprints"}).json()
        ada = next(s for s in data["speakers"] if s["name"] == "Ada")
        assert Voiceprint.from_base64(ada["voiceprint"]) == expected
        assert srv.client.get("/v1/speakers", params={"include": "x"}).status_code == 400


def test_compare_matrix(fake: FakeJobs, rng: np.random.Generator) -> None:
    from engine.compare import compare

    a = [unit_vp(rng) for _ in range(3)]
    b = [unit_vp(rng) for _ in range(2)]
    with serve(config()) as srv:
        r = srv.client.post("/v1/compare", json={
            "a": [v.to_base64() for v in a],
            "b": [{"label": "x", "voiceprint": b[0].to_base64()}, b[1].to_base64()]})
        assert r.status_code == 200, r.text
        data = r.json()
        ref = compare(a, b)
        assert data["b"] == ["x", "1"] and np.array(data["score"]).shape == (3, 2)
        np.testing.assert_allclose(data["cosine"], ref.cosine, atol=1e-5)
        other = Voiceprint(a[0].vector, "other-model@1")
        r = srv.client.post("/v1/compare", json={"a": [other.to_base64()],
                                                 "b": [b[0].to_base64()]})
        assert r.status_code == 400 and r.json()["error"]["type"] == "voiceprint.model-mismatch"


def test_typed_errors_map_to_http_codes() -> None:
    from engine import errors
    from engine.server.app import status_for

    cases = {errors.ValidationError: 400, errors.InvalidVoiceprint: 400,
             errors.NotFound: 404, errors.Conflict: 409, errors.SizeLimitExceeded: 413,
             errors.MediaUnreadable: 422, errors.NoSpeech: 422, auth.Unauthorized: 401,
             errors.ModelUnavailable: 503, errors.VPError: 500}
    for cls, code in cases.items():
        assert status_for(cls("x")) == code, cls
    assert status_for(errors.VPError("x", type="library.disk-full")) == 507


def test_label_styles() -> None:
    doc = {"identification": [{"speaker": "UNKNOWN_03"}, {"speaker": "Ada"}]}
    assert tasks.apply_label_style(json.loads(json.dumps(doc)), "pyannote") == doc
    out = tasks.apply_label_style(doc, "deepaffects")
    assert [i["speaker"] for i in out["identification"]] == ["UserNotIdentified", "Ada"]


def test_vpstudio_serve_subprocess(vp_home: Path) -> None:
    """The real command: loopback bind, the token from --print-token, clean stop on SIGTERM."""
    import subprocess
    import sys

    import httpx

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", str(port)],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        token = ""
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            token = token or (auth.token_path().read_text().strip()
                              if auth.token_path().exists() else "")
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/v1/jobs", timeout=5,
                                   headers={"Authorization": f"Bearer {token}"}).status_code
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert status == 200, proc.stderr.read() if proc.poll() is not None else status
        assert httpx.get(f"http://127.0.0.1:{port}/v1/jobs", timeout=5).status_code == 401
        printed = subprocess.run([sys.executable, "-m", "engine.cli", "serve", "--print-token"],
                                 cwd=root, env=env, capture_output=True, text=True, timeout=60)
        assert printed.stdout.strip() == token
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit by SIGTERM)
    assert proc.returncode in (0, -15), err
    assert "Traceback" not in err
    assert f"http://127.0.0.1:{port}" in err


def test_server_files_are_private_whatever_the_umask(vp_home: Path) -> None:
    from engine.audio import VOICEPRINT_LIMITS
    from engine.server import inputs

    old = os.umask(0)
    try:
        store = JobStore()
        store.finish(store.create("identify"), "succeeded", output={"x": 1})
        auth.load_or_create_token()
        media = inputs.resolve(None, base64.b64encode(b"RIFF....").decode(), VOICEPRINT_LIMITS)
    finally:
        os.umask(old)
    try:
        made = [vp_home / n for n in ("jobs.sqlite3", "jobs.sqlite3-wal", "jobs.sqlite3-shm",
                                      "server-token")]
        assert [stat.S_IMODE(os.stat(p).st_mode) for p in made] == [0o600] * 4
        assert stat.S_IMODE(os.stat(media.path.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(media.path).st_mode) == 0o600
    finally:
        media.cleanup()
        store.close()
    assert not media.path.exists()


def test_a_job_canceled_while_queued_still_calls_its_webhook(fake: FakeJobs) -> None:
    fake.block = True
    with webhook_receiver() as hook, serve(config(workers=1)) as srv:
        c = srv.client
        first = c.post("/v1/identify", json={"url": str(WAV)}).json()["jobId"]
        assert fake.started.wait(10)
        queued = c.post("/v1/identify", json={"url": str(WAV), "webhook": hook.url}
                        ).json()["jobId"]
        assert c.delete(f"/v1/jobs/{queued}").json()["status"] == "canceled"
        assert hook.got.wait(20)  # at once, not when a worker frees up
        payload = json.loads(hook.bodies[0][0])
        assert payload["jobId"] == queued and payload["status"] == "canceled"
        assert c.get(f"/v1/jobs/{first}").json()["status"] == "running"
        c.delete(f"/v1/jobs/{first}")
        assert len(hook.bodies) == 1  # the first job had no webhook; nothing sent twice
