"""A real uvicorn server on 127.0.0.1 (ephemeral port) in a thread, and a webhook receiver."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from engine.server.app import ServerConfig, create_app

START_TIMEOUT_S = 30.0


@dataclass
class Running:
    url: str
    token: str
    client: httpx.Client

    def wait(self, job_id: str, *, until: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
        """Poll the job until it ended (or ``until(record)``), at most ``timeout`` seconds."""
        done = until or (lambda r: r["status"] in ("succeeded", "failed", "canceled"))
        deadline = time.monotonic() + timeout
        while True:
            record = self.client.get(f"/v1/jobs/{job_id}").json()
            if done(record) or time.monotonic() > deadline:
                return record
            time.sleep(0.05)


@contextlib.contextmanager
def serve(config: ServerConfig | None = None) -> Iterator[Running]:
    """Run the app on 127.0.0.1:<ephemeral> until the block ends (graceful shutdown)."""
    config = config or ServerConfig(token="test-token-" + "x" * 20)
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    assert config.token is not None
    headers = {"Authorization": f"Bearer {config.token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30.0) as client:
        try:
            yield Running(url, config.token, client)
        finally:
            server.should_exit = True
            thread.join(30.0)
    assert not thread.is_alive(), "the test server did not stop"


@dataclass
class Receiver:
    url: str
    bodies: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many requests first
    got: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def webhook_receiver(fail_first: int = 0) -> Iterator[Receiver]:
    """A loopback HTTP server recording every POST (body, headers)."""
    box: list[Receiver] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            rec = box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.bodies.append((body, {k.lower(): v for k, v in self.headers.items()}))
            code = 500 if len(rec.bodies) <= rec.fail_first else 204
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if code == 204:
                rec.got.set()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{httpd.server_address[1]}/hook",
                        fail_first=fail_first))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10.0)
