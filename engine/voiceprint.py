"""Voiceprints: an L2-normalised speaker embedding tagged with the model that made it.

Binary blob (all integers little-endian), version 1::

    offset  size       field
    0       4          magic b"VPRT"
    4       2          u16 format version (1)
    6       2          u16 L = length of the model id in bytes
    8       L          model id, UTF-8
    8+L     4          u32 dim (1..4096)
    12+L    4*dim      float32 little-endian vector
    12+L+4d 4          u32 CRC-32 (zlib) of every byte before it

Base64 (standard alphabet, padded) of the blob is the JSON form. Decoding checks
every field and raises :class:`~engine.errors.InvalidVoiceprint` with a ``detail``
naming what is wrong (``voiceprint.truncated``, ``voiceprint.bad-magic``,
``voiceprint.unsupported-version``, ``voiceprint.bad-length``, ``voiceprint.bad-checksum``,
``voiceprint.bad-model-id``, ``voiceprint.bad-dimension``, ``voiceprint.non-finite``,
``voiceprint.zero-norm``, ``voiceprint.bad-base64``, ``voiceprint.not-unit-norm``).
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import InvalidVoiceprint, ModelMismatch, ValidationError

MAGIC = b"VPRT"
FORMAT_VERSION = 1
MAX_DIM = 4096
MAX_MODEL_ID_BYTES = 1024
_HEAD = struct.Struct("<4sHH")  # magic, version, model id length
_U32 = struct.Struct("<I")
_MIN_BLOB = _HEAD.size + 1 + _U32.size + 4 + _U32.size
_MAX_BLOB = _HEAD.size + MAX_MODEL_ID_BYTES + _U32.size + 4 * MAX_DIM + _U32.size
# A float32 vector whose float64 norm is this close to 1 is kept bit for bit, so that
# blob -> Voiceprint -> blob is exact; anything else is normalised.
_UNIT_TOLERANCE = 1e-5


def _bad(
    message: str, detail: str, location: str = "voiceprint", **context: Any
) -> InvalidVoiceprint:
    return InvalidVoiceprint(message, location=location, detail=detail, context=context or None)


@dataclass(frozen=True, eq=False)
class Voiceprint:
    """A speaker embedding.

    Attributes:
        vector: read-only float32 ``(dim,)``, unit L2 norm (normalised on construction).
        model_id: the speaker model that produced it (voiceprints of different models
            are never compared).

    Raises:
        InvalidVoiceprint: vector not 1-D, dim outside 1..4096, NaN/inf, zero norm,
            or an empty / over-long model id.
    """

    vector: np.ndarray
    model_id: str

    def __post_init__(self) -> None:
        if not isinstance(self.model_id, str) or not self.model_id:
            raise _bad(
                "the model id must be a non-empty string.", "voiceprint.bad-model-id", "model_id"
            )
        try:
            mid_bytes = self.model_id.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(
                "the model id is not encodable as UTF-8.", "voiceprint.bad-model-id", "model_id"
            ) from None
        if len(mid_bytes) > MAX_MODEL_ID_BYTES:
            raise _bad(
                f"the model id is longer than {MAX_MODEL_ID_BYTES} bytes.",
                "voiceprint.bad-model-id",
                "model_id",
            )
        try:
            v = np.asarray(self.vector)
        except (TypeError, ValueError) as exc:
            raise _bad(
                f"the vector is not numeric ({exc}).", "voiceprint.bad-dimension", "vector"
            ) from None
        if v.ndim != 1 or not 1 <= v.shape[0] <= MAX_DIM:
            raise _bad(
                f"the vector must be 1-D with 1 to {MAX_DIM} values; got shape {v.shape}.",
                "voiceprint.bad-dimension",
                "vector",
            )
        if v.dtype.kind not in "fiu" or v.dtype == np.bool_:
            raise _bad(
                f"the vector dtype {v.dtype} is not numeric.", "voiceprint.bad-dimension", "vector"
            )
        v64 = v.astype(np.float64)
        if not np.isfinite(v64).all():
            raise _bad(
                "the vector holds NaN or infinite values.", "voiceprint.non-finite", "vector"
            )
        norm = float(np.linalg.norm(v64))
        if not norm > 1e-12 or not np.isfinite(norm):
            raise _bad(
                "the vector has zero length and cannot be normalised.",
                "voiceprint.zero-norm",
                "vector",
            )
        if v.dtype == np.float32 and abs(norm - 1.0) <= _UNIT_TOLERANCE:
            out = np.array(v, dtype=np.float32, copy=True)
        else:
            out = (v64 / norm).astype(np.float32)
        out.setflags(write=False)
        object.__setattr__(self, "vector", out)

    @property
    def dim(self) -> int:
        return int(self.vector.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Voiceprint):
            return NotImplemented
        return self.model_id == other.model_id and np.array_equal(self.vector, other.vector)

    def __hash__(self) -> int:
        return hash((self.model_id, self.vector.tobytes()))

    def __repr__(self) -> str:
        return f"Voiceprint(model_id={self.model_id!r}, dim={self.dim})"

    # ------------------------------------------------------------ blob

    def to_bytes(self) -> bytes:
        """The version-1 binary blob (see the module docstring)."""
        mid = self.model_id.encode("utf-8")
        body = (
            _HEAD.pack(MAGIC, FORMAT_VERSION, len(mid))
            + mid
            + _U32.pack(self.dim)
            + self.vector.astype("<f4", copy=False).tobytes()
        )
        return body + _U32.pack(zlib.crc32(body) & 0xFFFFFFFF)

    @classmethod
    def from_bytes(
        cls, blob: bytes | bytearray | memoryview, *, unit_tolerance: float | None = None
    ) -> Voiceprint:
        """Decode a blob made by :meth:`to_bytes`, checking every field.

        Args:
            unit_tolerance: when given, a stored vector whose L2 norm differs from 1 by
                more than this is refused (``voiceprint.not-unit-norm``) instead of
                being normalised: blobs made by :meth:`to_bytes` hold unit vectors.

        Raises:
            InvalidVoiceprint: anything malformed (``detail`` says what).
        """
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise _bad(
                f"a voiceprint blob must be bytes, not {type(blob).__name__}.",
                "voiceprint.bad-length",
            )
        b = bytes(blob)
        if len(b) < _HEAD.size:
            raise _bad(
                f"the blob is truncated ({len(b)} bytes).", "voiceprint.truncated", size=len(b)
            )
        magic, version, mid_len = _HEAD.unpack_from(b, 0)
        if magic != MAGIC:
            raise _bad("the data is not a voiceprint (bad magic bytes).", "voiceprint.bad-magic")
        if version != FORMAT_VERSION:
            newer = (
                " It was made by a newer version of the app." if version > FORMAT_VERSION else ""
            )
            raise _bad(
                f"voiceprint format version {version} is not supported (this app reads version {FORMAT_VERSION}).{newer}",
                "voiceprint.unsupported-version",
                version=version,
            )
        if not 1 <= mid_len <= MAX_MODEL_ID_BYTES:
            raise _bad(
                f"the model id length {mid_len} is outside 1..{MAX_MODEL_ID_BYTES}.",
                "voiceprint.bad-model-id",
            )
        dim_at = _HEAD.size + mid_len
        if len(b) < dim_at + _U32.size:
            raise _bad(
                f"the blob is truncated ({len(b)} bytes).", "voiceprint.truncated", size=len(b)
            )
        (dim,) = _U32.unpack_from(b, dim_at)
        if not 1 <= dim <= MAX_DIM:
            raise _bad(
                f"the dimension {dim} is outside 1..{MAX_DIM}.", "voiceprint.bad-dimension", dim=dim
            )
        vec_at = dim_at + _U32.size
        expected = vec_at + 4 * dim + _U32.size
        if len(b) != expected:
            kind = "truncated" if len(b) < expected else "bad-length"
            raise _bad(
                f"the blob is {len(b)} bytes but its header implies {expected}.",
                f"voiceprint.{kind}",
                size=len(b),
                expected_size=expected,
            )
        (crc,) = _U32.unpack_from(b, expected - _U32.size)
        if crc != zlib.crc32(b[: expected - _U32.size]) & 0xFFFFFFFF:
            raise _bad("the blob is corrupt (checksum mismatch).", "voiceprint.bad-checksum")
        try:
            model_id = b[_HEAD.size : dim_at].decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("the model id is not valid UTF-8.", "voiceprint.bad-model-id") from None
        vec = np.frombuffer(b, dtype="<f4", count=dim, offset=vec_at).astype(np.float32)
        if unit_tolerance is not None:
            with np.errstate(all="ignore"):
                norm = float(np.linalg.norm(vec.astype(np.float64)))
            if np.isfinite(norm) and norm > 1e-12 and abs(norm - 1.0) > unit_tolerance:
                raise _bad(
                    f"the vector's length is {norm:.6g}, not 1 (allowed: within "
                    f"{unit_tolerance:g} of 1): it was not made by a speaker encoder.",
                    "voiceprint.not-unit-norm",
                    norm=norm,
                    tolerance=unit_tolerance,
                )
        return cls(vec, model_id)

    def to_base64(self) -> str:
        """The blob as standard padded base64 text (for JSON)."""
        return base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_base64(
        cls, text: str | bytes, *, unit_tolerance: float | None = None
    ) -> Voiceprint:
        """Decode :meth:`to_base64` output (surrounding whitespace allowed).

        ``unit_tolerance`` as in :meth:`from_bytes`.

        Raises:
            InvalidVoiceprint: not base64, or the blob inside is invalid.
        """
        if not isinstance(text, str | bytes):
            raise _bad(
                f"a base64 voiceprint must be text, not {type(text).__name__}.",
                "voiceprint.bad-base64",
            )
        if len(text) > 2 * _MAX_BLOB:  # fail fast on absurd input before decoding it
            raise _bad("the base64 text is far too long for a voiceprint.", "voiceprint.bad-length")
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise _bad(
                "the voiceprint text is not valid base64.", "voiceprint.bad-base64"
            ) from None
        return cls.from_bytes(raw, unit_tolerance=unit_tolerance)


def mean_voiceprint(voiceprints: Sequence[Voiceprint]) -> Voiceprint:
    """The normalised mean of several voiceprints of one model (a speaker's voiceprint).

    Raises:
        ValidationError: the sequence is empty or holds something else than Voiceprints.
        ModelMismatch: model ids differ (``location`` names the first odd one out).
        InvalidVoiceprint: dimensions differ, or the vectors cancel out.
    """
    vps = list(voiceprints)
    if not vps:
        raise ValidationError("no voiceprints to average.", location="voiceprints")
    for i, vp in enumerate(vps):
        if not isinstance(vp, Voiceprint):
            raise ValidationError(
                f"item {i} is a {type(vp).__name__}, not a Voiceprint.",
                location=f"voiceprints[{i}]",
            )
    first = vps[0]
    for i, vp in enumerate(vps[1:], start=1):
        if vp.model_id != first.model_id:
            raise ModelMismatch(
                f"voiceprint {i} was made by model {vp.model_id!r}, the first by "
                f"{first.model_id!r}; re-enroll with one model.",
                location=f"voiceprints[{i}]",
                context={"expected_model_id": first.model_id, "model_id": vp.model_id},
            )
        if vp.dim != first.dim:
            raise _bad(
                f"voiceprint {i} has dimension {vp.dim}, the first {first.dim}.",
                "voiceprint.bad-dimension",
                f"voiceprints[{i}]",
            )
    if len(vps) == 1:
        return first
    mean = np.mean(np.stack([vp.vector.astype(np.float64) for vp in vps]), axis=0)
    if not np.linalg.norm(mean) > 1e-6:
        raise _bad(
            "the voiceprints cancel out: their mean is zero.", "voiceprint.zero-norm", "voiceprints"
        )
    return Voiceprint(mean, first.model_id)

