"""The server's bearer token (generated once, 0600 in the data folder) and HMAC signatures."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from engine import paths
from engine.errors import VPError
from engine.private_files import open_private

TOKEN_FILE = "server-token"
SIGNATURE_HEADER = "X-Voiceprint-Signature"
"""Webhook header: ``sha256=<hex HMAC-SHA256 of the raw body, keyed with the token>``."""


class Unauthorized(VPError):
    """Missing or wrong bearer token (``auth.unauthorized``, HTTP 401)."""

    type = "auth.unauthorized"


def token_path() -> Path:
    return paths.data_home() / TOKEN_FILE


def load_or_create_token(path: Path | None = None) -> str:
    """The server token, created (43 url-safe characters, file mode 0600) on first use."""
    path = path or token_path()
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    if text:
        return text
    token = secrets.token_urlsafe(32)
    # O_EXCL: two servers starting at once must not each write a different token
    try:
        with open_private(path, "x", encoding="ascii") as f:
            f.write(token + "\n")
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    return token


def check_bearer(header: str | None, token: str) -> None:
    """Raise :class:`Unauthorized` unless ``header`` is ``Bearer <token>`` (constant time)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized(
            "Send the server token as 'Authorization: Bearer <token>' "
            "(vpstudio serve --print-token shows it).",
            location="Authorization",
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("The bearer token is wrong.", location="Authorization")


def sign(body: bytes, token: str) -> str:
    """The signature header value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str, token: str) -> bool:
    """True when ``signature`` is :func:`sign` of ``body`` (what a receiver checks)."""
    return hmac.compare_digest(sign(body, token), signature)
