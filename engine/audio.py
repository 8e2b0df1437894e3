"""Audio input: any libsndfile format (WAV, FLAC, OGG, MP3, ...) to float32 at 16 kHz.

Everything the rest of the engine sees is float32 at :data:`SAMPLE_RATE` (16 kHz),
shaped ``(channels, n)`` in :class:`Audio` and ``(n,)`` once mixed to mono.

Design points:

* Limits are enforced before decoding: the file size from ``os.stat`` /
  ``len(bytes)``, the duration from the header. Decoding re-checks the duration,
  because some headers (MP3) only estimate it.
* Resampling is scipy's anti-aliased polyphase filter (``resample_poly``,
  Kaiser window, beta 5). It is run block by block with enough input context on
  each side that every output sample equals the one a whole-file
  ``resample_poly`` gives, so :func:`iter_blocks` and :func:`load_audio` agree
  sample for sample and block start times are exact (``index / 16000``).
* The signal is never trimmed: output sample ``i`` is at ``i / 16000`` seconds of
  the original file.
* Bad input raises a typed :class:`~engine.errors.VPError` (see the ``detail``
  strings below), never a bare exception.

``detail`` values: ``media.not-found``, ``media.not-a-file``, ``media.io-error``,
``media.permission-denied``, ``media.name-too-long``,
``media.empty`` (0 bytes), ``media.zero-length`` (no samples), ``media.non-finite``,
``media.corrupt``, ``media.unsupported-format``, ``media.unsupported-sample-rate``,
``media.too-large`` (file size) and ``media.too-long`` (duration); channel errors
are :class:`~engine.errors.ValidationError` at location ``"channels"``.
"""

from __future__ import annotations

import errno
import functools
import io
import math
import numbers
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf

from engine.errors import MediaUnreadable, SizeLimitExceeded, ValidationError

SAMPLE_RATE = 16000
"""The engine's one sample rate, in Hz."""

MIN_SOURCE_RATE = 1000
MAX_SOURCE_RATE = 384000
"""Source sample rates accepted, in Hz (beyond this the resampling filter gets huge)."""

ChannelMode = Literal["mix", "split"]
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | np.ndarray

# Input read per decode step, in seconds of source audio (rounded to the resampler's
# alignment); small enough to bound memory, large enough that the filter context is cheap.
_READ_SECONDS = 10.0
_READ_SAMPLES = 1 << 23
# libsndfile reports this many frames (or more) when it does not know the length.
_UNKNOWN_FRAMES = 1 << 62
_SF_ERR_UNRECOGNISED_FORMAT = 1
_SF_ERR_SYSTEM = 2
_SF_ERR_BAD_FILE = 7  # "File does not exist or is not a regular file (possibly a pipe?)"
# Output samples (16 kHz) per file byte that load_audio preallocates for; lossy and
# lossless codecs stay far below it, so only a lying header is affected.
_MAX_SAMPLES_PER_BYTE = 64


@dataclass(frozen=True)
class Limits:
    """Upper bounds on an input: ``max_seconds`` of audio and ``max_bytes`` of file."""

    max_seconds: float
    max_bytes: int

    def __post_init__(self) -> None:
        ok = isinstance(self.max_seconds, numbers.Real) and not isinstance(self.max_seconds, bool)
        if not (ok and self.max_seconds > 0 and math.isfinite(self.max_seconds)):
            raise ValidationError("max_seconds must be a positive number.", location="limits")
        ok = isinstance(self.max_bytes, numbers.Integral) and not isinstance(self.max_bytes, bool)
        if not (ok and self.max_bytes > 0):
            raise ValidationError("max_bytes must be a positive integer.", location="limits")


MiB = 1024 * 1024
GiB = 1024 * MiB
VOICEPRINT_LIMITS = Limits(max_seconds=30.0, max_bytes=100 * MiB)
"""Voiceprint extraction input: at most 30 s of audio and 100 MiB of file."""
IDENTIFICATION_LIMITS = Limits(max_seconds=24 * 3600.0, max_bytes=1 * GiB)
"""Identification input: at most 24 h of audio and 1 GiB of file."""


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded audio at 16 kHz.

    Attributes:
        samples: read-only float32 array ``(channels, n)`` at :data:`SAMPLE_RATE`;
            one row per stream (one row after ``mix``, one per selected channel after
            ``split``). A float32 C-contiguous array passed in is frozen in place.
        source: the file path it came from, or None (bytes, array, recording).
        original_rate: the source sample rate in Hz.
        original_channels: the number of channels of the source.
    """

    samples: np.ndarray
    source: str | None = None
    original_rate: int = SAMPLE_RATE
    original_channels: int = 1

    def __post_init__(self) -> None:
        a = np.ascontiguousarray(self.samples, dtype=np.float32)
        if a.ndim != 2 or a.shape[0] < 1:
            raise ValidationError(
                f"Audio samples must be shaped (channels, n); got {a.shape}.", location="samples"
            )
        a.setflags(write=False)
        object.__setattr__(self, "samples", a)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[1] / SAMPLE_RATE

    @property
    def num_channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    def mono(self) -> np.ndarray:
        """The mean of the rows: read-only float32 ``(n,)`` at 16 kHz."""
        if self.samples.shape[0] == 1:
            return self.samples[0]
        m = self.samples.mean(axis=0, dtype=np.float32)
        m.setflags(write=False)
        return m


@dataclass(frozen=True)
class AudioInfo:
    """What the header says about a file (nothing decoded).

    ``frames`` and ``duration`` (seconds) are at ``original_rate``; ``format`` and
    ``subtype`` are libsndfile's names (``"WAV"``, ``"PCM_16"``); ``file_size`` in bytes.
    """

    frames: int
    original_rate: int
    channels: int
    duration: float
    format: str
    subtype: str
    file_size: int


# ---------------------------------------------------------------- resampling


def _ratio(rate: int) -> tuple[int, int]:
    """``(up, down)`` in lowest terms for ``rate`` -> 16 kHz."""
    g = math.gcd(SAMPLE_RATE, rate)
    return SAMPLE_RATE // g, rate // g


@functools.lru_cache(maxsize=8)
def _lowpass(up: int, down: int) -> np.ndarray:
    """resample_poly's own default filter (Kaiser, beta 5), designed once per ratio."""
    from scipy.signal import firwin  # lazy: scipy.signal costs ~0.5 s to import, and
    # most inputs need no resampling (16 kHz already)

    max_rate = max(up, down)
    h = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)
    h.setflags(write=False)
    return h


# Above this up or down factor the exact polyphase filter (20 * max(up, down) + 1 taps)
# costs more memory than the audio: 383,999 Hz needs 7.7 M taps and 470 MB for 5 s.
# Every common rate (8 k to 384 kHz, the 44.1 k family: 441) stays far below it.
_MAX_POLYPHASE_FACTOR = 4096


class _Resampler:
    """Blockwise ``resample_poly`` whose output equals resampling the whole signal.

    Rates whose ratio to 16 kHz needs an up or down factor above
    :data:`_MAX_POLYPHASE_FACTOR` (e.g. 383,999 Hz, a prime-like ratio) go through
    libsoxr's streaming resampler instead (its "VHQ" quality, arbitrary ratio,
    memory independent of the ratio), trimmed or zero-padded at the end to exactly
    ``ceil(n * 16000 / rate)`` samples.

    Input is pushed in order as ``(channels, k)`` float32. Output sample ``m`` needs
    input within ``half_len / up`` samples of ``m * down / up``; the resampler keeps
    ``pad`` samples of context (a multiple of ``down``) on each side and cuts only at
    input indices that are multiples of ``down``, where output indices are integers
    (``k * up / down``), so no sample moves across a block edge.
    """

    def __init__(self, rate: int, channels: int) -> None:
        self.up, self.down = _ratio(rate)
        self.identity = self.up == self.down == 1
        self.stream: Any = None
        self.pushed = self.emitted = 0  # input and output samples so far (soxr path)
        if max(self.up, self.down) > _MAX_POLYPHASE_FACTOR:
            import soxr

            self.stream = soxr.ResampleStream(
                rate, SAMPLE_RATE, channels, dtype="float32", quality="VHQ"
            )
        self.h = (
            _lowpass(self.up, self.down) if not self.identity and self.stream is None else None
        )
        reach = (10 * max(self.up, self.down)) // self.up + 2
        self.pad = -(-reach // self.down) * self.down
        self.buf = np.zeros((channels, 0), dtype=np.float32)
        self.buf_start = 0  # input index of buf[:, 0]; a multiple of down
        self.emit_k = 0  # input index from which outputs are still owed

    def _run(self) -> np.ndarray:
        from scipy.signal import resample_poly

        y = resample_poly(self.buf, self.up, self.down, axis=-1, window=self.h)
        return np.asarray(y, dtype=np.float32)

    def push(self, x: np.ndarray) -> np.ndarray:
        """Feed input ``(channels, k)``; return the outputs now final ``(channels, m)``."""
        if self.identity:
            return x
        if self.stream is not None:
            return self._soxr(x, last=False)
        self.buf = np.concatenate([self.buf, x], axis=1) if self.buf.shape[1] else x
        end = self.buf_start + self.buf.shape[1]
        safe = ((end - self.pad) // self.down) * self.down
        if safe <= self.emit_k:
            return self.buf[:, :0]
        y = self._run()
        lo = (self.emit_k - self.buf_start) * self.up // self.down
        hi = (safe - self.buf_start) * self.up // self.down
        out = y[:, lo:hi]
        self.emit_k = safe
        new_start = max(0, safe - self.pad)
        self.buf = self.buf[:, new_start - self.buf_start :]
        self.buf_start = new_start
        return out

    def finish(self) -> np.ndarray:
        """The remaining outputs after the last input (``ceil(n * up / down)`` in all)."""
        if self.stream is not None:
            return self._soxr(self.buf[:, :0], last=True)
        if self.identity or self.buf.shape[1] == 0:
            return self.buf[:, :0]
        end = self.buf_start + self.buf.shape[1]
        if end <= self.emit_k:
            return self.buf[:, :0]
        y = self._run()
        lo = (self.emit_k - self.buf_start) * self.up // self.down
        self.emit_k = end
        self.buf = self.buf[:, :0]
        return y[:, lo:]


    def _soxr(self, x: np.ndarray, *, last: bool) -> np.ndarray:
        self.pushed += x.shape[1]
        y = self.stream.resample_chunk(np.ascontiguousarray(x.T), last=last)
        y = np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1, x.shape[0]).T)
        target = -(-self.pushed * self.up // self.down)
        room = target - self.emitted
        if y.shape[1] > room:  # never more than the exact length
            y = y[:, : max(room, 0)]
        if last and y.shape[1] < room:
            y = np.concatenate([y, np.zeros((x.shape[0], room - y.shape[1]), np.float32)], 1)
        self.emitted += y.shape[1]
        return y


def output_length(frames: int, rate: int) -> int:
    """Samples at 16 kHz that ``frames`` samples at ``rate`` Hz become: ``ceil(frames*16000/rate)``."""
    up, down = _ratio(rate)
    return -(-frames * up // down)


# ---------------------------------------------------------------- helpers


def _check_mode(channel_mode: str) -> None:
    if channel_mode not in ("mix", "split"):
        raise ValidationError(
            f"channel_mode must be 'mix' or 'split', not {channel_mode!r}.",
            location="channel_mode",
        )


def _check_channel_list(channels: Sequence[int] | None) -> list[int] | None:
    """Type-check the 0-based channel list (range is checked once the file is open)."""
    if channels is None:
        return None
    if isinstance(channels, str | bytes) or not isinstance(channels, Sequence | np.ndarray):
        raise ValidationError(
            "channels must be a list of 0-based channel indices.", location="channels"
        )
    picks: list[int] = []
    for c in channels:
        if isinstance(c, bool) or not isinstance(c, numbers.Integral):
            raise ValidationError(
                f"channel index {c!r} is not an integer.",
                location="channels",
                detail="channels.invalid",
            )
        picks.append(int(c))
    if not picks:
        raise ValidationError(
            "channels is empty: name at least one 0-based channel index.",
            location="channels",
            detail="channels.empty",
        )
    if len(set(picks)) != len(picks):
        raise ValidationError(
            f"channel list {picks} names a channel more than once.",
            location="channels",
            detail="channels.duplicate",
            context={"channels": picks},
        )
    return picks


def resolve_channels(channels: Sequence[int] | None, available: int) -> list[int]:
    """The 0-based channel list to use out of ``available`` channels (None: all of them).

    Raises:
        ValidationError at location ``"channels"``: detail ``channels.invalid`` (not
        integers), ``channels.empty``, ``channels.duplicate`` or ``channels.out-of-range``.
    """
    return _resolve_channels(_check_channel_list(channels), available)


@dataclass(frozen=True)
class FileChannel:
    """One channel of an audio file, to be streamed on its own (split-channel identification).

    Attributes:
        path: the file.
        channel: 0-based channel index (checked against the file when it is opened).
    """

    path: str
    channel: int

    def blocks(self, block_seconds: float) -> Iterator[np.ndarray]:
        """The channel as float32 ``(n,)`` 16 kHz blocks (see :func:`iter_blocks`)."""
        for _, block in iter_blocks(self.path, block_seconds=block_seconds, channels=[self.channel]):
            yield block


def _resolve_channels(picks: list[int] | None, available: int) -> list[int]:
    if picks is None:
        return list(range(available))
    bad = [c for c in picks if not 0 <= c < available]
    if bad:
        raise ValidationError(
            f"channel index {bad[0]} is out of range: the audio has {available} "
            f"channel(s), numbered 0 to {available - 1}.",
            location="channels",
            detail="channels.out-of-range",
            context={"channels": picks, "available_channels": available},
        )
    return picks


def _select(data: np.ndarray, picks: list[int], channel_mode: str, available: int) -> np.ndarray:
    """``(k, channels)`` as decoded -> ``(rows, k)`` float32 C-contiguous."""
    if channel_mode == "mix":
        if len(picks) == 1:
            row = data[:, picks[0]]
        elif len(picks) == available:
            row = data.mean(axis=1, dtype=np.float32)
        else:
            row = data[:, picks].mean(axis=1, dtype=np.float32)
        return np.ascontiguousarray(row, dtype=np.float32)[None, :]
    return np.ascontiguousarray(data[:, picks].T, dtype=np.float32)


def _check_rate(rate: int, where: str, *, from_file: bool) -> None:
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        msg = (
            f"sample rate {rate} Hz is not supported "
            f"(accepted: {MIN_SOURCE_RATE} to {MAX_SOURCE_RATE} Hz)."
        )
        ctx = {"sample_rate": rate}
        if from_file:
            raise MediaUnreadable(
                msg, location=where, detail="media.unsupported-sample-rate", context=ctx
            )
        raise ValidationError(msg, location="sample_rate", context=ctx)


def _too_long(duration: float, limits: Limits, where: str) -> SizeLimitExceeded:
    return SizeLimitExceeded(
        f"audio lasts {duration:.1f} s, more than the {limits.max_seconds:g} s allowed.",
        location=where,
        detail="media.too-long",
        context={"duration": duration, "max_duration": limits.max_seconds},
    )


def _no_memory(nbytes: int, where: str) -> SizeLimitExceeded:
    return SizeLimitExceeded(
        f"decoding needs {nbytes / GiB:.1f} GiB of memory, more than is available; "
        "use a shorter file, fewer channels, or blockwise processing.",
        location=where,
        detail="media.too-large",
        context={"needed_bytes": nbytes},
    )


def _non_finite(where: str) -> MediaUnreadable:
    return MediaUnreadable(
        "audio holds NaN or infinite sample values.", location=where, detail="media.non-finite"
    )


def _sf_error(exc: BaseException, where: str, *, opening: bool = False) -> MediaUnreadable:
    code = getattr(exc, "code", None)
    text = getattr(exc, "error_string", None) or str(exc)
    # At open time the file is known to be a readable regular file (or bytes), so
    # libsndfile's "does not exist or is not a regular file (possibly a pipe?)" means
    # that a format parser (e.g. MP3's, on bytes that look like an MPEG sync word) gave up.
    if code == _SF_ERR_UNRECOGNISED_FORMAT or (opening and code == _SF_ERR_BAD_FILE):
        return MediaUnreadable(
            "the file's format is not recognised: it is not audio in a format this app "
            "reads (WAV, FLAC, OGG/Vorbis/Opus, MP3 and other libsndfile formats).",
            location=where,
            detail="media.unsupported-format",
        )
    if code == _SF_ERR_SYSTEM and "ermission denied" in text:
        return _permission_denied(where)
    return MediaUnreadable(
        f"the audio file is corrupt or truncated and cannot be decoded ({text}).",
        location=where,
        detail="media.corrupt",
    )


# Exceptions libsndfile / cffi / numpy may raise on a hostile file; all become typed errors.
_DECODE_ERRORS = (
    RuntimeError,
    ValueError,
    TypeError,
    OSError,
    EOFError,
    OverflowError,
    MemoryError,
)


class _ClampedBytesIO(io.BytesIO):
    """BytesIO whose seek before the start goes to 0 instead of raising.

    Corrupt headers make libsndfile seek to negative offsets; inside soundfile's
    cffi callback a raised ValueError is only printed to stderr ("Exception
    ignored ...") and the seek fails anyway, so clamp quietly.
    """

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            return super().seek(offset, whence)
        except ValueError:
            return super().seek(0)


class _Opened:
    """An open ``sf.SoundFile`` plus where it came from (for messages) and its byte size."""

    def __init__(self, f: sf.SoundFile, where: str, source_path: str | None, size: int) -> None:
        self.f = f
        self.where = where
        self.source_path = source_path
        self.size = size


def _open(source: Any, limits: Limits | None) -> _Opened:
    """Open a path or bytes after the size checks; no sample is decoded."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        where = "source"
        size = len(data)
        path: str | None = None
        _check_size(size, limits, where)
        fileobj: Any = _ClampedBytesIO(data)
    elif isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if isinstance(path, bytes):  # os.PathLike[bytes]
            path = os.fsdecode(path)
        where = path
        size = _check_path(path)
        _check_size(size, limits, where)
        fileobj = path
    else:
        raise ValidationError(
            f"audio source must be a file path, bytes or a numpy array, not {type(source).__name__}.",
            location="source",
        )
    try:
        f = sf.SoundFile(fileobj)
    except PermissionError:
        raise _permission_denied(where) from None
    except _DECODE_ERRORS as exc:
        raise _sf_error(exc, where, opening=True) from None
    return _Opened(f, where, path, size)


def _permission_denied(where: str) -> MediaUnreadable:
    return MediaUnreadable(
        "permission denied: this user may not read the audio file (check its permissions).",
        location=where,
        detail="media.permission-denied",
    )


def _check_path(path: str) -> int:
    """Check that ``path`` is a regular file this user can read; returns its size in bytes."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise MediaUnreadable(
            "the audio file does not exist.", location=path, detail="media.not-found"
        ) from None
    except PermissionError:  # a folder on the way cannot be entered
        raise _permission_denied(path) from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise MediaUnreadable(
                "a file or folder name in the path is longer than the file system allows "
                "(255 bytes per name).",
                location=path,
                detail="media.name-too-long",
            ) from None
        raise MediaUnreadable(
            f"the audio file cannot be read ({exc.strerror or exc}).",
            location=path,
            detail="media.io-error",
        ) from None
    except ValueError as exc:  # an embedded NUL byte
        raise MediaUnreadable(
            f"the path is not a valid file name ({exc}).", location=path, detail="media.not-found"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise MediaUnreadable(
            "the path is not a regular file.", location=path, detail="media.not-a-file"
        )
    # Open it once: read permission is the kernel's to decide (ACLs, root, mounts).
    try:
        os.close(os.open(path, os.O_RDONLY))
    except PermissionError:
        raise _permission_denied(path) from None
    except OSError as exc:
        raise MediaUnreadable(
            f"the audio file cannot be read ({exc.strerror or exc}).",
            location=path,
            detail="media.io-error",
        ) from None
    return int(st.st_size)


def check_readable(path: str | os.PathLike[str]) -> None:
    """Raise the error :func:`load_audio` would give for a missing, unreadable, empty or
    non-regular file, without decoding anything (callers check inputs before loading
    models)."""
    where = os.fsdecode(os.fspath(path))
    _check_size(_check_path(where), None, where)


def _check_size(size: int, limits: Limits | None, where: str) -> None:
    if size == 0:
        raise MediaUnreadable(
            "the audio file is empty (0 bytes).", location=where, detail="media.empty"
        )
    if limits is not None and size > limits.max_bytes:
        raise SizeLimitExceeded(
            f"the file is {size / MiB:.1f} MiB, more than the {limits.max_bytes / MiB:g} MiB allowed.",
            location=where,
            detail="media.too-large",
            context={"file_size": size, "max_file_size": limits.max_bytes},
        )


def _header(op: _Opened, limits: Limits | None) -> tuple[int, int, int]:
    """``(frames, rate, channels)`` from the header, checked; frames may be unknown (-1)."""
    f = op.f
    rate, nch, frames = int(f.samplerate), int(f.channels), int(f.frames)
    if nch < 1:
        raise MediaUnreadable(
            "the audio file has no channels.", location=op.where, detail="media.corrupt"
        )
    _check_rate(rate, op.where, from_file=True)
    if frames < 0 or frames >= _UNKNOWN_FRAMES:
        frames = -1
    elif limits is not None and frames / rate > limits.max_seconds:
        raise _too_long(frames / rate, limits, op.where)
    return frames, rate, nch


def _decode(
    op: _Opened,
    picks: list[int],
    channel_mode: str,
    limits: Limits | None,
    rate: int,
    nch: int,
) -> Iterator[np.ndarray]:
    """Decode and resample in order: yields final ``(rows, m)`` float32 chunks at 16 kHz.

    Raises ``media.zero-length`` if nothing decodes, ``media.too-long`` as soon as the
    decoded length passes the limit, ``media.non-finite`` on NaN/inf.
    """
    rows = 1 if channel_mode == "mix" else len(picks)
    rs = _Resampler(rate, rows)
    # Frames per read: about _READ_SECONDS, but never more than _READ_SAMPLES values in
    # all channels (a hostile header may claim 1024 channels). Any size is exact: the
    # resampler keeps its own context.
    step = max(1, min(int(_READ_SECONDS * rate), _READ_SAMPLES // nch))
    max_frames = math.inf if limits is None else limits.max_seconds * rate
    total = 0
    while True:
        try:
            data = op.f.read(step, dtype="float32", always_2d=True)
        except _DECODE_ERRORS as exc:
            raise _sf_error(exc, op.where) from None
        k = data.shape[0]
        if k == 0:
            break
        total += k
        if total > max_frames:
            assert limits is not None
            raise _too_long(total / rate, limits, op.where)
        if not np.isfinite(data).all():
            raise _non_finite(op.where)
        out = rs.push(_select(data, picks, channel_mode, nch))
        if out.shape[1]:
            if not np.isfinite(out).all():
                raise _non_finite(op.where)
            yield out
    if total == 0:
        raise MediaUnreadable(
            "the audio file holds no samples (zero length).",
            location=op.where,
            detail="media.zero-length",
        )
    tail = rs.finish()
    if tail.shape[1]:
        if not np.isfinite(tail).all():
            raise _non_finite(op.where)
        yield tail


# ---------------------------------------------------------------- public API


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read a file's header only (no decoding, no limits).

    Raises:
        MediaUnreadable: missing, empty, corrupt or unsupported file.
    """
    op = _open(path, None)
    try:
        frames, rate, nch = _header(op, None)
        return AudioInfo(
            frames=frames,
            original_rate=rate,
            channels=nch,
            duration=frames / rate if frames >= 0 else math.nan,
            format=str(op.f.format),
            subtype=str(op.f.subtype),
            file_size=op.size,
        )
    finally:
        op.f.close()


def load_audio(
    source: Source,
    *,
    limits: Limits = IDENTIFICATION_LIMITS,
    channel_mode: ChannelMode = "mix",
    channels: Sequence[int] | None = None,
    sample_rate: int | None = None,
) -> Audio:
    """Load audio from a path, encoded bytes or an array, as float32 at 16 kHz.

    Args:
        source: a file path; the bytes of an encoded file (any libsndfile format);
            or a numpy array ``(n,)`` or ``(channels, n)`` of samples (float in
            [-1, 1], or int16/int32 PCM) at ``sample_rate``.
        limits: file size (checked with ``os.stat`` / ``len`` before opening) and
            duration (checked from the header before decoding, and again while
            decoding). For arrays only the duration applies.
        channel_mode: ``"mix"`` averages the selected channels into one row;
            ``"split"`` keeps one row per selected channel.
        channels: 0-based channel indices to use (Phonexia style), applied before
            mixing or splitting; None means all channels.
        sample_rate: the rate of an array ``source`` in Hz (default 16000); only for arrays.

    Returns:
        :class:`Audio` whose ``samples`` are ``(rows, ceil(frames * 16000 / rate))``.

    Raises:
        MediaUnreadable, SizeLimitExceeded, ValidationError (see the module docstring).
    """
    if not isinstance(limits, Limits):
        raise ValidationError("limits must be an engine.audio.Limits.", location="limits")
    _check_mode(channel_mode)
    picks0 = _check_channel_list(channels)
    if isinstance(source, np.ndarray):
        return _load_array(source, limits, channel_mode, picks0, sample_rate)
    if sample_rate is not None:
        raise ValidationError(
            "sample_rate is only for array input: a file's header gives its rate.",
            location="sample_rate",
        )
    op = _open(source, limits)
    try:
        frames, rate, nch = _header(op, limits)
        picks = _resolve_channels(picks0, nch)
        rows = 1 if channel_mode == "mix" else len(picks)
        # Preallocate what the header promises, but no more than the file's bytes could
        # plausibly decode to (a hostile header may promise hours in a few bytes); any
        # excess is appended after.
        plausible = max(1 << 20, _MAX_SAMPLES_PER_BYTE * op.size)
        expected = min(output_length(frames, rate), plausible) if frames > 0 else 0
        try:
            out = np.empty((rows, expected), dtype=np.float32)
        except MemoryError:
            raise _no_memory(rows * expected * 4, op.where) from None
        extra: list[np.ndarray] = []
        pos = 0
        for chunk in _decode(op, picks, channel_mode, limits, rate, nch):
            m = chunk.shape[1]
            fit = min(m, expected - pos)
            if fit > 0:
                out[:, pos : pos + fit] = chunk[:, :fit]
            if fit < m:  # the header under-counted (MP3 estimates): keep the rest
                extra.append(chunk[:, max(fit, 0) :])
            pos += m
        if extra:
            try:
                samples = np.concatenate([out, *extra], axis=1)
            except MemoryError:
                raise _no_memory(rows * pos * 4, op.where) from None
        elif pos < expected:  # the header over-counted (truncated file)
            samples = out[:, :pos].copy()
        else:
            samples = out
        return Audio(samples, source=op.source_path, original_rate=rate, original_channels=nch)
    finally:
        op.f.close()


def _load_array(
    x: np.ndarray,
    limits: Limits,
    channel_mode: str,
    picks0: list[int] | None,
    sample_rate: int | None,
) -> Audio:
    where = "source"
    rate = SAMPLE_RATE if sample_rate is None else sample_rate
    if isinstance(rate, bool) or not isinstance(rate, numbers.Integral):
        raise ValidationError(
            "sample_rate must be an integer number of Hz.", location="sample_rate"
        )
    rate = int(rate)
    _check_rate(rate, where, from_file=False)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValidationError(
            f"audio array must be shaped (n,) or (channels, n); got {x.shape}.", location=where
        )
    if x.shape[0] < 1 or x.shape[1] == 0:
        raise MediaUnreadable(
            "the audio array holds no samples (zero length).",
            location=where,
            detail="media.zero-length",
        )
    if x.shape[1] / rate > limits.max_seconds:
        raise _too_long(x.shape[1] / rate, limits, where)
    if x.dtype.kind == "f":
        with np.errstate(all="ignore"):
            xf = x.astype(np.float32, copy=False)
    elif x.dtype in (np.int16, np.int32):
        xf = x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max + 1)
    else:
        raise ValidationError(
            f"audio array dtype {x.dtype} is not supported (use float32/float64, int16 or int32).",
            location=where,
        )
    if not np.isfinite(xf).all():
        raise _non_finite(where)
    nch = int(xf.shape[0])
    picks = _resolve_channels(picks0, nch)
    rows = 1 if channel_mode == "mix" else len(picks)
    rs = _Resampler(rate, rows)
    sel = _select(xf.T, picks, channel_mode, nch)
    if rs.identity:
        y = sel.copy() if np.shares_memory(sel, x) else sel  # never freeze the caller's array
    else:
        with np.errstate(all="ignore"):
            y = np.concatenate([rs.push(sel), rs.finish()], axis=1)
    if not np.isfinite(y).all():
        raise _non_finite(where)
    return Audio(y, source=None, original_rate=rate, original_channels=nch)


def iter_blocks(
    path: str | os.PathLike[str] | bytes,
    *,
    block_seconds: float = 60.0,
    overlap_seconds: float = 0.0,
    channel_mode: ChannelMode = "mix",
    channels: Sequence[int] | None = None,
    limits: Limits = IDENTIFICATION_LIMITS,
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream a long file as 16 kHz blocks; memory does not grow with its duration.

    Block ``i`` starts at output sample ``i * B`` with ``B = round(block_seconds * 16000)``
    and holds ``B`` samples plus up to ``round(overlap_seconds * 16000)`` samples of the
    next block (the last block is shorter). With no overlap the blocks concatenate to
    exactly ``load_audio(path, ...).samples`` (same values, ``ceil(frames*16000/rate)``
    samples). Limits and errors are those of :func:`load_audio`; errors found while
    decoding surface when the generator reaches them.

    Yields:
        ``(start_seconds, block)``: ``start_seconds = i * B / 16000`` (computed, never
        accumulated); ``block`` float32 ``(n,)`` for ``mix``, ``(channels, n)`` for ``split``.
    """
    _check_mode(channel_mode)
    picks0 = _check_channel_list(channels)
    if not (
        isinstance(block_seconds, numbers.Real)
        and math.isfinite(block_seconds)
        and block_seconds * SAMPLE_RATE >= 1
    ):
        raise ValidationError("block_seconds must be positive.", location="block_seconds")
    if not (
        isinstance(overlap_seconds, numbers.Real)
        and math.isfinite(overlap_seconds)
        and overlap_seconds >= 0
    ):
        raise ValidationError("overlap_seconds must be >= 0.", location="overlap_seconds")
    hop = int(round(float(block_seconds) * SAMPLE_RATE))
    span = hop + int(round(float(overlap_seconds) * SAMPLE_RATE))
    op = _open(path, limits)
    try:
        _, rate, nch = _header(op, limits)
        picks = _resolve_channels(picks0, nch)
    except BaseException:
        op.f.close()
        raise
    return _iter_blocks(op, limits, channel_mode, picks, rate, nch, hop, span)


def _iter_blocks(
    op: _Opened,
    limits: Limits,
    channel_mode: str,
    picks: list[int],
    rate: int,
    nch: int,
    hop: int,
    span: int,
) -> Iterator[tuple[float, np.ndarray]]:
    try:
        pending: list[np.ndarray] = []
        have = 0  # samples in pending
        index = 0  # block number; block i starts at output sample i * hop
        for chunk in _decode(op, picks, channel_mode, limits, rate, nch):
            pending.append(chunk)
            have += chunk.shape[1]
            while have >= span:
                buf = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
                yield index * hop / SAMPLE_RATE, _shape(buf[:, :span].copy(), channel_mode)
                buf = buf[:, hop:]
                pending, have, index = [buf], buf.shape[1], index + 1
        if have:  # the short last block (with overlap it may lie inside the previous one)
            buf = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
            yield index * hop / SAMPLE_RATE, _shape(buf.copy(), channel_mode)
    finally:
        op.f.close()


def _shape(block: np.ndarray, channel_mode: str) -> np.ndarray:
    return block[0] if channel_mode == "mix" else block


def save_wav(
    path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int = SAMPLE_RATE
) -> Path:
    """Write ``samples`` (``(n,)`` or ``(channels, n)`` float in [-1, 1]) as a PCM16 WAV.

    Values are clipped to [-1, 1] first (libsndfile would wrap). Returns the path.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValidationError(
            f"samples must be (n,) or (channels, n); got {x.shape}.", location="samples"
        )
    if not np.isfinite(x).all():
        raise ValidationError("samples hold NaN or infinite values.", location="samples")
    out = Path(path)
    sf.write(out, np.clip(x, -1.0, 1.0).T, int(sample_rate), subtype="PCM_16", format="WAV")
    return out
