"""Webhook URLs (loopback only unless widened) and signed deliveries with retries.

A delivery POSTs the job record (the body of ``GET /v1/jobs/{id}``) as JSON with the
header :data:`~engine.server.auth.SIGNATURE_HEADER` = ``sha256=<HMAC-SHA256(body, token)>``.
A 2xx answer is delivered; anything else (or no answer) is retried after
``backoff * 2**attempt`` seconds, up to :data:`MAX_RETRIES` times.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from engine.errors import ValidationError
from engine.server.auth import SIGNATURE_HEADER, sign
from engine.server.jobs_store import JobStore, now

log = logging.getLogger(__name__)

MAX_RETRIES = 5
TIMEOUT_S = 10.0


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str, allowed_hosts: Iterable[str] = ()) -> str:
    """``url`` if it is an http(s) URL to a loopback host or one of ``allowed_hosts``.

    Raises:
        ValidationError: anything else (location ``webhook``).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("webhook must be an http:// or https:// URL.", location="webhook")
    host = parts.hostname
    allowed = {h.lower() for h in allowed_hosts}
    if not (_is_loopback(host) or host.lower() in allowed or "*" in allowed):
        raise ValidationError(
            f"webhook host {host!r} is not on this machine: only loopback hosts are allowed "
            "unless the server is started with --allow-webhook-host.",
            location="webhook",
            context={"host": host},
        )
    return url


class WebhookSender:
    """Delivers job results on background threads, recording the status in the store."""

    def __init__(
        self,
        store: JobStore,
        token: str,
        *,
        backoff_s: float = 1.0,
    ) -> None:
        self._store = store
        self._token = token
        self._backoff = backoff_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def send(self, job_id: str) -> None:
        record = self._store.get(job_id)
        if record is None or "webhook" not in record:
            return
        thread = threading.Thread(target=self._deliver, args=(job_id, record),
                                  name=f"webhook-{job_id[:8]}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop retrying (a delivery in flight ends within its HTTP timeout)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _record(self, job_id: str, status: dict[str, Any]) -> None:
        # a delivery still retrying when the server stops outlives the store's connection
        with contextlib.suppress(sqlite3.Error):
            self._store.set_webhook_status(job_id, status)

    def _deliver(self, job_id: str, record: dict[str, Any]) -> None:
        url = record["webhook"]["url"]
        payload = dict(record)
        payload.pop("webhook", None)  # the receiver knows where it is
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self._token)}
        status: dict[str, Any] = {"state": "pending", "attempts": 0}
        for attempt in range(MAX_RETRIES + 1):
            if attempt:
                self._stop.wait(self._backoff * 2 ** (attempt - 1))
            if self._stop.is_set():
                break
            status["attempts"] = attempt + 1
            try:
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310
                    code = int(resp.status)
            except urllib.error.HTTPError as exc:
                code, error = int(exc.code), f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                code, error = 0, str(exc) or type(exc).__name__
            else:
                error = f"HTTP {code}"
            if 200 <= code < 300:
                status.update(state="delivered", deliveredAt=now(), lastStatus=code)
                status.pop("lastError", None)
                self._record(job_id, status)
                return
            status.update(state="retrying", lastError=error, lastStatus=code or None)
            self._record(job_id, status)
        status["state"] = "failed"
        self._record(job_id, status)
