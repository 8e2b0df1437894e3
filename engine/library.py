"""The voiceprint library: a local SQLite database of enrolled speakers.

One file (``engine.paths.library_path()``), created with mode 0600 because it
holds biometric data; WAL journal so a reader (the GUI) never blocks on a writer
(a job) and a crash mid-write leaves the previous state intact. Every public
write is ONE transaction: nothing partial is ever committed.

Tables (schema version in ``PRAGMA user_version``, upgraded by :data:`MIGRATIONS`):

* ``speakers(id, name UNIQUE NOCASE, notes, colour, created, updated,
  model_id, num_enrollments, seconds)``: the last three summarise the speaker's
  enrollments.
* ``centroids(speaker -> speakers, model_id, dim, vector)``: the speaker's
  voiceprint, the normalised mean of its enrollment vectors (little-endian
  float32), one row per speaker with enrollments. A table of its own keeps the
  speaker rows small (fast listing) and the vectors contiguous (fast matrix load).
  Both are caches, rewritten in the same transaction as any enrollment change.
* ``enrollments(id, speaker -> speakers ON DELETE CASCADE, voiceprint, model_id,
  seconds, source, created)``: ``voiceprint`` is the raw little-endian float32
  vector, ``seconds`` the net speech it was extracted from.

Speakers are referred to by integer id (``str(id)`` in
:meth:`Library.voiceprints`), since names may change. A speaker's enrollments all
come from one speaker model; vectors of another model are refused with
:class:`~engine.errors.ModelMismatch` (re-enroll with the current model).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import errno
import json
import math
import os
import re
import sqlite3
import sys
import threading
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from engine import paths
from engine.calibration import cosine_to_score
from engine.enrollment_clips import clip_folder, delete_clips, read_clip, write_clip
from engine.errors import (
    Conflict,
    DiskFull,
    InvalidVoiceprint,
    LibraryBusy,
    LibraryReadOnly,
    ModelMismatch,
    NotFound,
    ValidationError,
    VPError,
)
from engine.files import os_error, write_private_atomic
from engine.jobs import CancelToken, ProgressFn, no_progress
from engine.voiceprint import MAX_DIM

if TYPE_CHECKING:
    from engine.voiceprint import Voiceprint

EXPORT_FORMAT = "voiceprint-studio.library"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 512 * 1024 * 1024
MAX_NAME_CHARS = 200
MAX_NOTES_CHARS = 10_000
MAX_SOURCE_CHARS = 1_000
MAX_ENROLLMENTS_PER_SPEAKER = 10_000
#: A stored or imported voiceprint's L2 norm must be within this of 1 (export files hold
#: float32 unit vectors, |norm - 1| < 1e-6); one further off was not produced by a
#: speaker encoder and is refused, not renormalised.
NORM_TOLERANCE = 1e-2
# Up to this many speakers changed by this process, the cached speaker matrix is
# patched instead of reloaded (a reload of 100k rows takes about a second).
_PATCH_LIMIT = 10_000

OnConflict = Literal["skip", "rename", "merge"]

#: Okabe-Ito / Tableau-like colours that stay distinct on light and dark themes.
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#56b4e9",
    "#009e73",
    "#cc79a7",
)
_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


# -- records ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpeakerInfo:
    """One enrolled speaker.

    Attributes:
        id: stable integer id (names may change).
        name: display name, unique ignoring ASCII case.
        notes: free text.
        colour: ``#rrggbb``.
        created, updated: ISO 8601 UTC timestamps.
        num_enrollments: number of enrollments.
        seconds: total net speech of the enrollments, seconds.
        model_id: speaker model of the enrollments, None when there are none.
    """

    id: int
    name: str
    notes: str
    colour: str
    created: str
    updated: str
    num_enrollments: int
    seconds: float
    model_id: str | None


@dataclass(frozen=True)
class EnrollmentInfo:
    """One enrollment: a voiceprint extracted from one recording.

    Attributes:
        id: enrollment id.
        speaker_id: owning speaker's id.
        model_id: speaker model that produced the voiceprint.
        dim: voiceprint dimension.
        seconds: net speech the voiceprint was extracted from, seconds.
        source: recording file name (no directories).
        created: ISO 8601 UTC timestamp.
        verdict: quality verdict code of the recording (``engine.enroll.VERDICTS``), ""
            when not recorded (enrolled before schema 3, or imported).
        verdict_text: the verdict in words, "" when not recorded.
        has_clip: a private copy of the recording's audio is kept
            (:meth:`Library.enrollment_clip`).
    """

    id: int
    speaker_id: int
    model_id: str
    dim: int
    seconds: float
    source: str
    created: str
    verdict: str = ""
    verdict_text: str = ""
    has_clip: bool = False


@dataclass(frozen=True)
class ImportReport:
    """What :meth:`Library.import_json` did.

    Attributes:
        added: names of new speakers.
        skipped: names left alone because they already existed (``on_conflict="skip"``).
        renamed: ``(name in the file, name given)`` pairs (``on_conflict="rename"``).
        merged: names whose enrollments were added to an existing speaker.
        enrollments: number of enrollments written.
    """

    added: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    merged: tuple[str, ...] = ()
    enrollments: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "skipped": list(self.skipped),
            "renamed": [list(p) for p in self.renamed],
            "merged": list(self.merged),
            "enrollments": self.enrollments,
        }


@dataclass
class _ImportSpeaker:
    """A validated speaker from an export file (internal)."""

    name: str
    notes: str
    colour: str | None
    vectors: list[np.ndarray] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


# -- helpers ------------------------------------------------------------------------------
def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _invisible(text: str) -> str | None:
    """The first character of ``text`` that would make two names look the same, or None.

    Refused: control characters (C0, DEL, C1: category Cc), format characters (Cf:
    zero-width space/joiners, bidi embeddings/overrides/isolates/marks, the BOM, soft
    hyphen ...), lone surrogates (Cs) and the line/paragraph separators (Zl, Zp).
    """
    for ch in text:
        if unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
            return ch
    return None


def _clean_name(name: object, location: str = "name") -> str:
    """A speaker name as stored: NFC, runs of spaces collapsed, no invisible characters.

    NFC makes a name typed with a combining accent ("e" + U+0301) and the same name
    typed with a precomposed one ("\u00e9") one name; refusing invisible characters
    keeps "Bob" and "Bob\u200b" from being two speakers.
    """
    if not isinstance(name, str):
        raise ValidationError("A speaker name must be text.", location=location)
    bad = _invisible(name)
    if bad is not None:
        raise ValidationError(
            f"A speaker name cannot hold invisible or control characters (U+{ord(bad):04X}).",
            location=location,
            detail="name.invisible-character",
            context={"codepoint": f"U+{ord(bad):04X}"},
        )
    cleaned = " ".join(unicodedata.normalize("NFC", name).split())
    if not cleaned:
        raise ValidationError("A speaker name cannot be empty.", location=location)
    if len(cleaned) > MAX_NAME_CHARS:
        raise ValidationError(
            f"A speaker name is at most {MAX_NAME_CHARS} characters.",
            location=location,
            context={"length": len(cleaned), "max_length": MAX_NAME_CHARS},
        )
    return cleaned


def _stored_name_fixed(name: str) -> str:
    """What an already-stored name becomes under today's rules (migration 3)."""
    visible = "".join(ch for ch in name if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)
    cleaned = " ".join(unicodedata.normalize("NFC", visible).split())[:MAX_NAME_CHARS]
    return cleaned or "Unnamed speaker"


def _clean_notes(notes: object, location: str = "notes") -> str:
    if notes is None:
        return ""
    if not isinstance(notes, str):
        raise ValidationError("Notes must be text.", location=location)
    if len(notes) > MAX_NOTES_CHARS:
        raise ValidationError(
            f"Notes are at most {MAX_NOTES_CHARS} characters.",
            location=location,
            context={"length": len(notes), "max_length": MAX_NOTES_CHARS},
        )
    return notes


def _clean_colour(colour: object, location: str = "colour") -> str:
    if not isinstance(colour, str) or not _COLOUR_RE.match(colour):
        raise ValidationError("A colour is written #rrggbb, e.g. #4e79a7.", location=location)
    return colour.lower()


def _clean_source(source: object, location: str = "source") -> str:
    if source is None:
        return ""
    if not isinstance(source, str):
        raise ValidationError("An enrollment source must be a file name.", location=location)
    source = os.path.basename(source.replace("\\", "/"))
    return source[:MAX_SOURCE_CHARS]


def _clean_seconds(seconds: object, location: str = "seconds") -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValidationError("Seconds of speech must be a number.", location=location)
    value = float(seconds)
    if not math.isfinite(value) or value < 0 or value > 1e7:
        raise ValidationError(
            "Seconds of speech must be a finite number between 0 and 10,000,000.",
            location=location,
        )
    return value


def _check_vector(vector: np.ndarray, location: str) -> np.ndarray:
    """Validate one voiceprint vector; returns a C-contiguous float32 ``(dim,)`` copy."""
    v = np.asarray(vector)
    if v.ndim != 1 or not (1 <= v.shape[0] <= MAX_DIM):
        raise InvalidVoiceprint(
            f"A voiceprint is a vector of 1 to {MAX_DIM} numbers.",
            location=location,
            context={"shape": list(v.shape)},
        )
    v = np.ascontiguousarray(v, dtype=np.float32)
    if not np.all(np.isfinite(v)):
        raise InvalidVoiceprint("A voiceprint holds non-finite values.", location=location)
    norm = float(np.linalg.norm(v.astype(np.float64)))
    if abs(norm - 1.0) > NORM_TOLERANCE:
        raise InvalidVoiceprint(
            "A voiceprint must be a unit-length vector.",
            location=location,
            context={"norm": norm},
        )
    return v


def _to_blob(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype="<f4").tobytes()


def _from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def _mean_unit(vectors: np.ndarray) -> np.ndarray:
    """Normalised mean of ``(n, dim)`` unit vectors -> ``(dim,)`` float32 unit vector.

    Opposite vectors can cancel exactly; the first vector is then the best we have.
    """
    mean = vectors.astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm < 1e-8:
        mean, norm = vectors[0].astype(np.float64), 1.0
    return (mean / norm).astype(np.float32)


def _quality_json(quality: Any) -> str:
    """A quality report as stored (JSON of its ``to_dict()``), "" for None."""
    if quality is None:
        return ""
    if hasattr(quality, "to_dict"):
        data = quality.to_dict()
    elif dataclasses.is_dataclass(quality) and not isinstance(quality, type):
        data = dataclasses.asdict(quality)
    else:
        data = dict(quality)
    if "verdict_text" not in data and hasattr(quality, "verdict_text"):
        data["verdict_text"] = str(quality.verdict_text)
    return json.dumps(data, ensure_ascii=False, default=str)


def _verdict_of(stored: str) -> tuple[str, str]:
    """``(verdict, verdict_text)`` from a stored quality report; ("", "") when absent."""
    if not stored:
        return "", ""
    try:
        data = json.loads(stored)
    except ValueError:
        return "", ""
    return str(data.get("verdict", "")), str(data.get("verdict_text", ""))


def _make_voiceprint(vector: np.ndarray, model_id: str) -> Voiceprint:
    from engine.voiceprint import Voiceprint

    return Voiceprint(vector=vector, model_id=model_id)


def _trusted_voiceprint(row: np.ndarray, model_id: str) -> Voiceprint:
    """A Voiceprint over a read-only row of the cached matrix, skipping re-validation.

    Every row was validated (finite, unit norm, float32) when it was written; building
    100k voiceprints through the validating constructor takes seconds, this takes
    milliseconds. ``row`` must be a read-only float32 ``(dim,)`` unit vector.
    """
    from engine.voiceprint import Voiceprint

    vp = object.__new__(Voiceprint)
    object.__setattr__(vp, "vector", row)
    object.__setattr__(vp, "model_id", model_id)
    return vp


def _voiceprint_parts(voiceprint: Voiceprint, location: str) -> tuple[np.ndarray, str]:
    vector = getattr(voiceprint, "vector", None)
    model_id = getattr(voiceprint, "model_id", None)
    if vector is None or not isinstance(model_id, str) or not model_id:
        raise InvalidVoiceprint("Expected a Voiceprint (vector and model id).", location=location)
    return _check_vector(vector, location), model_id


def _mismatch(model_id: str, expected: str, location: str | None = None) -> ModelMismatch:
    return ModelMismatch(
        f"This voiceprint comes from speaker model {model_id!r}, but {expected!r} is "
        "expected. Voiceprints of different models cannot be compared: re-enroll the "
        "speaker from its recordings with the current model.",
        location=location,
        context={"model_id": model_id, "expected_model_id": expected},
    )


# -- who holds the write lock ---------------------------------------------------------------
#: How long a write waits for another process's write to finish before ``library.busy``.
_BUSY_TIMEOUT_S = 10.0


def _no_space(db: Path) -> bool:
    """Whether the file system holding ``db`` has no block left for this user."""
    try:
        return os.statvfs(db.parent).f_bavail == 0
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return False


def _writer_path(db: Path) -> Path:
    return Path(str(db) + "-writer")


def _claim_writer(db: Path, operation: str) -> dict[str, Any] | None:
    """Record, while holding SQLite's write lock, which process writes and what."""
    info = {
        "pid": os.getpid(),
        "command": os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python",
        "operation": operation,
        "since": _dt.datetime.now(_dt.UTC).strftime("%H:%M:%S UTC"),
    }
    try:
        fd = os.open(_writer_path(db), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(info, f)
    except OSError:  # best effort: a full disk must not stop the write it reports on
        return None
    return info


def _release_writer(db: Path, claimed: dict[str, Any] | None) -> None:
    if claimed is not None:
        with contextlib.suppress(OSError):
            os.unlink(_writer_path(db))


def read_lock_holder(db: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``{"pid", "command", "operation", "since"}`` of the process now writing the
    library at ``db``, or None (nobody recorded, or the recorded process is gone)."""
    try:
        info = json.loads(_writer_path(Path(db)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return None  # left behind by a process that was killed mid-write
    except (PermissionError, OSError):
        pass
    return {k: str(info.get(k, "?")) if k != "pid" else info["pid"]
            for k in ("pid", "command", "operation", "since")}


# -- migrations ---------------------------------------------------------------------------
def _migrate_1(conn: sqlite3.Connection) -> None:
    """The first schema: speakers and their enrollments."""
    conn.execute(
        """CREATE TABLE speakers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            notes TEXT NOT NULL DEFAULT '',
            colour TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE enrollments (
            id INTEGER PRIMARY KEY,
            speaker INTEGER NOT NULL REFERENCES speakers(id) ON DELETE CASCADE,
            voiceprint BLOB NOT NULL,
            model_id TEXT NOT NULL,
            seconds REAL NOT NULL DEFAULT 0,
            source TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX enrollments_speaker ON enrollments(speaker)")


def _migrate_2(conn: sqlite3.Connection) -> None:
    """Cache each speaker's voiceprint and totals, so 100k speakers list and score fast."""
    for ddl in (
        "ALTER TABLE speakers ADD COLUMN model_id TEXT",
        "ALTER TABLE speakers ADD COLUMN num_enrollments INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE speakers ADD COLUMN seconds REAL NOT NULL DEFAULT 0",
        """CREATE TABLE centroids (
            speaker INTEGER PRIMARY KEY REFERENCES speakers(id) ON DELETE CASCADE,
            model_id TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL
        )""",
    ):
        conn.execute(ddl)
    ids = [row[0] for row in conn.execute("SELECT id FROM speakers")]
    for speaker_id in ids:
        _refresh_speaker(conn, speaker_id, touch=False)


def _migrate_3(conn: sqlite3.Connection) -> None:
    """Stored names under the NFC / no-invisible-character rule of :func:`_clean_name`.

    A name that changes and then equals another speaker's gets a ``" (2)"`` suffix:
    "Bob" and "Bob\u200b" were two speakers that looked like one; names that were
    already clean never change. Nothing else (ids, voiceprints) is touched.
    """
    for speaker_id, name in conn.execute("SELECT id, name FROM speakers ORDER BY id").fetchall():
        fixed = _stored_name_fixed(name)
        if fixed == name:
            continue
        candidate, k = fixed, 2
        while conn.execute(
            "SELECT 1 FROM speakers WHERE name = ? AND id != ?", (candidate, speaker_id)
        ).fetchone():
            suffix = f" ({k})"
            candidate, k = fixed[: MAX_NAME_CHARS - len(suffix)] + suffix, k + 1
        conn.execute("UPDATE speakers SET name = ? WHERE id = ?", (candidate, speaker_id))


def _migrate_4(conn: sqlite3.Connection) -> None:
    """Each enrollment's quality report (JSON) and the file name of its kept audio clip."""
    conn.execute("ALTER TABLE enrollments ADD COLUMN quality TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE enrollments ADD COLUMN clip TEXT NOT NULL DEFAULT ''")


#: Ordered schema migrations: ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migrate_1, _migrate_2, _migrate_3, _migrate_4
)
SCHEMA_VERSION = len(MIGRATIONS)
# A read-only library cannot be migrated; from this schema on it can still be read
# (version 3 only cleaned names; 4 added enrollment columns that reads fill in when absent).
_MIN_READABLE_SCHEMA = 2


def _refresh_speaker(conn: sqlite3.Connection, speaker_id: int, *, touch: bool = True) -> None:
    """Recompute a speaker's cached voiceprint and totals from its enrollments."""
    rows = conn.execute(
        "SELECT voiceprint, model_id, seconds FROM enrollments WHERE speaker = ? ORDER BY id",
        (speaker_id,),
    ).fetchall()
    if rows:
        models = {r[1] for r in rows}
        if len(models) > 1:  # guarded on write; a hand-edited database lands here
            raise ModelMismatch(
                "A speaker's enrollments come from different speaker models; re-enroll it.",
                location=f"speakers[{speaker_id}]",
                context={"model_ids": sorted(models)},
            )
        vectors = np.stack([_from_blob(r[0]) for r in rows])
        model_id: str | None = rows[0][1]
        seconds = float(sum(r[2] for r in rows))
        conn.execute(
            "INSERT OR REPLACE INTO centroids (speaker, model_id, dim, vector) VALUES (?, ?, ?, ?)",
            (speaker_id, model_id, int(vectors.shape[1]), _to_blob(_mean_unit(vectors))),
        )
    else:
        model_id, seconds = None, 0.0
        conn.execute("DELETE FROM centroids WHERE speaker = ?", (speaker_id,))
    conn.execute(
        "UPDATE speakers SET model_id = ?, num_enrollments = ?, seconds = ? WHERE id = ?",
        (model_id, len(rows), seconds, speaker_id),
    )
    if touch:
        conn.execute("UPDATE speakers SET updated = ? WHERE id = ?", (_now(), speaker_id))


_SPEAKER_COLUMNS = (
    "id, name, notes, colour, created, updated, num_enrollments, seconds, model_id"
)


def _speaker_from_row(row: Sequence[Any]) -> SpeakerInfo:
    return SpeakerInfo(
        id=int(row[0]),
        name=row[1],
        notes=row[2],
        colour=row[3],
        created=row[4],
        updated=row[5],
        num_enrollments=int(row[6]),
        seconds=float(row[7]),
        model_id=row[8],
    )


# -- the library ----------------------------------------------------------------------------
class Library:
    """The local voiceprint library.

    Args:
        path: database file; default :func:`engine.paths.library_path`. Created
            (mode 0600) and upgraded to the current schema when needed.
        expected_model_id: when given, the speaker model every new voiceprint
            (enroll, import) must come from: the current encoder's model id.

    Thread-safe: one connection guarded by a lock, so the GUI thread and a job's
    worker thread may share one ``Library``. Several processes may open the same
    file (WAL; writers wait up to 10 s for each other).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 expected_model_id: str | None = None) -> None:
        self.path = Path(path) if path is not None else paths.library_path()
        self.expected_model_id = expected_model_id
        self._lock = threading.RLock()
        # Speaker-matrix cache: (model id, data_version, ids, matrix). Writes of this
        # connection record the speakers whose voiceprint changed in _touched (None:
        # too many, reload all); other connections' commits change PRAGMA data_version.
        self._cache: tuple[str, int, np.ndarray, np.ndarray] | None = None
        self._touched: set[int] | None = set()
        self._tx_touched: set[int] | None = set()
        self._read_only_cause: VPError | None = None
        self.read_only = not self._writable()
        if self.read_only:
            self._conn = self._connect_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Create the file ourselves so it is 0600 from its first byte (sqlite would use 0644).
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and self.path.is_file():
                self.read_only = True
                self._conn = self._connect_read_only()
                return
            raise self._unavailable(exc) from exc
        self._restrict_files()
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S
        )
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise VPError(
                    f"The library {self.path} cannot use write-ahead logging (mode {mode}).",
                    type="library.unavailable",
                    location=str(self.path),
                )
            self._conn.execute("PRAGMA foreign_keys = ON")
            # FULL: a commit survives power loss too (one fsync; library writes are rare)
            self._conn.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self._conn.close()
            if not isinstance(exc, sqlite3.DatabaseError):
                raise
            err = self._db_error(exc, opening=True)
            if not isinstance(err, DiskFull) or not self.path.is_file():
                raise err from exc
            # A full disk cannot even grow the -shm file; reading still works without it.
            try:
                self._conn = self._connect_read_only()
            except VPError:
                raise err from exc
            self.read_only, self._read_only_cause = True, err
            return
        self._restrict_files()

    def _writable(self) -> bool:
        """Whether this user may write the library file (or create it) and its folder.

        ``os.access`` answers for the real user, permission bits and read-only mounts
        alike; a folder that does not exist yet is creatable when its nearest existing
        ancestor is writable.
        """
        try:
            if self.path.exists():
                return os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)
            folder = self.path.parent
            while not folder.exists() and folder != folder.parent:
                folder = folder.parent
            return os.access(folder, os.W_OK)
        except OSError:
            return True  # let the real open report what is wrong

    def _unavailable(self, exc: OSError) -> VPError:
        err = os_error(exc, self.path, writing=True, what="library")
        if err.type != "library.disk-full":
            err = VPError(
                f"The library {self.path} cannot be opened: {exc.strerror}.",
                type="library.unavailable",
                location=str(self.path),
            )
        return err

    def _read_only_error(self) -> VPError:
        if self._read_only_cause is not None:
            return self._read_only_cause
        return LibraryReadOnly(
            f"The library {self.path} is read-only (its file, folder or disk cannot be "
            "written by this user): listing, exporting and identifying work, but changes "
            "cannot be saved. Make it writable, or copy it to a writable folder and use "
            "--home.",
            location=str(self.path),
        )

    def _connect_read_only(self) -> sqlite3.Connection:
        """Open the library for reading only (see :attr:`read_only`).

        ``mode=ro`` reads a WAL database when its ``-shm`` file can be used. In a
        read-only folder it cannot be created, and SQLite then needs ``immutable=1``,
        which ignores the ``-wal`` file: allowed only when there is none (a clean
        close leaves none), else the newest changes would be silently missing.
        """
        if not self.path.is_file():
            raise LibraryReadOnly(
                f"There is no library at {self.path} and its folder is read-only, so it "
                "cannot be created. Give a writable folder with --home.",
                location=str(self.path),
            )
        base = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=ro"
        wal = Path(str(self.path) + "-wal")
        last: sqlite3.DatabaseError | None = None
        for uri in (base, base + "&immutable=1"):
            if uri.endswith("immutable=1") and wal.exists() and wal.stat().st_size > 0:
                break
            try:
                conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=_BUSY_TIMEOUT_S)
            except sqlite3.DatabaseError as exc:
                last = exc
                continue
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                conn.execute("SELECT COUNT(*) FROM speakers").fetchone()
            except sqlite3.DatabaseError as exc:
                conn.close()
                last = exc
                continue
            if version > SCHEMA_VERSION:
                conn.close()
                raise self._newer_schema(version)
            if version < _MIN_READABLE_SCHEMA:
                conn.close()
                raise LibraryReadOnly(
                    f"The library {self.path} is read-only and was written by an older "
                    "Voiceprint Studio: it must be upgraded once where it is writable.",
                    location=str(self.path),
                    context={"schema_version": version},
                )
            return conn
        raise LibraryReadOnly(
            f"The library {self.path} is read-only and cannot be opened for reading either "
            f"({last}); if it holds unsaved changes (a -wal file), open it once where it is "
            "writable.",
            location=str(self.path),
        )

    def _newer_schema(self, version: int) -> VPError:
        return VPError(
            f"The library {self.path} was written by a newer Voiceprint Studio "
            f"(schema {version}, this one knows {SCHEMA_VERSION}). Update the app.",
            type="library.unsupported-version",
            location=str(self.path),
            context={"schema_version": version, "supported": SCHEMA_VERSION},
        )

    def _db_error(self, exc: sqlite3.DatabaseError, *, opening: bool = False) -> VPError:
        """The typed error for an SQLite failure (disk full, read-only, busy, damaged)."""
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN) and _no_space(self.path):
            code = sqlite3.SQLITE_FULL  # e.g. SQLITE_IOERR_SHMSIZE: the -shm file cannot grow
        if code == sqlite3.SQLITE_FULL:
            return DiskFull(
                f"The disk holding the library {self.path} is full: the change was not "
                "saved and the library is unchanged. Free some space and try again.",
                location=str(self.path),
                detail="library.disk-full",
            )
        if code == sqlite3.SQLITE_READONLY:
            return self._read_only_error()
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return self._busy_error(exc)
        if opening:
            return VPError(
                f"The library {self.path} cannot be opened: {exc}. If it is damaged, move it "
                "away and import your last export.",
                type="library.unavailable",
                location=str(self.path),
            )
        return VPError(
            f"The library {self.path} could not be written: {exc}. Nothing was changed.",
            type="library.io-error",
            location=str(self.path),
        )

    def _busy_error(self, exc: BaseException) -> LibraryBusy:
        holder = read_lock_holder(self.path)
        if holder is not None:
            who = (
                f"process {holder['pid']} ({holder['command']}), running "
                f"{holder['operation']} since {holder['since']}"
            )
        else:
            who = "another program (it did not say which)"
        return LibraryBusy(
            f"The library is being changed by {who}; this change waited "
            f"{_BUSY_TIMEOUT_S:g} s and was not made. Try again when it has finished.",
            location=str(self.path),
            context={"holder": holder} if holder is not None else None,
        )

    # -- plumbing ----------------------------------------------------------------------
    def _restrict_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            p = Path(str(self.path) + suffix)
            with contextlib.suppress(OSError):
                if p.exists() and (p.stat().st_mode & 0o077):
                    os.chmod(p, 0o600)

    def _migrate(self) -> None:
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise self._newer_schema(version)
            if version == SCHEMA_VERSION:
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read under the write lock: another process may have migrated meanwhile.
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
                for step in range(version, SCHEMA_VERSION):
                    MIGRATIONS[step](self._conn)
                    self._conn.execute(f"PRAGMA user_version = {step + 1}")
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.DatabaseError):
                        self._conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _tx(self, operation: str = "a change") -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any exception).

        SQLite failures become typed errors (:meth:`_db_error`). While the transaction
        holds the write lock, a small ``-writer`` file next to the library says which
        process holds it and for what, so that a writer that waited in vain can say so.
        """
        with self._lock:
            if self.read_only:
                raise self._read_only_error()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc
            self._tx_touched = set()
            claimed = _claim_writer(self.path, operation)
            try:
                yield self._conn
                _release_writer(self.path, claimed)
                self._conn.execute("COMMIT")
            except BaseException as exc:
                _release_writer(self.path, claimed)
                # SQLite has already rolled back after some errors (SQLITE_FULL, ...):
                # a second ROLLBACK would hide the real error behind "no transaction".
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.DatabaseError):
                        self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.IntegrityError
                ):
                    raise self._db_error(exc) from exc
                raise
            else:
                self._merge_touched(self._tx_touched)

    def _touch(self, *speaker_ids: int) -> None:
        """Record, inside a transaction, speakers whose voiceprint changes (matrix cache)."""
        if self._tx_touched is not None:
            self._tx_touched.update(int(i) for i in speaker_ids)
            if len(self._tx_touched) > _PATCH_LIMIT:
                self._tx_touched = None

    def _merge_touched(self, touched: set[int] | None) -> None:
        if touched is None or self._touched is None:
            self._touched = None
        else:
            self._touched |= touched
            if len(self._touched) > _PATCH_LIMIT:
                self._touched = None

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _speaker_row(self, conn: sqlite3.Connection, speaker_id: int) -> SpeakerInfo:
        if isinstance(speaker_id, bool) or not isinstance(speaker_id, int | np.integer):
            raise ValidationError("A speaker id is an integer.", location="id")
        row = conn.execute(
            f"SELECT {_SPEAKER_COLUMNS} FROM speakers WHERE id = ?", (int(speaker_id),)
        ).fetchone()
        if row is None:
            raise NotFound(
                f"No speaker with id {speaker_id} in the library.",
                location="id",
                context={"id": int(speaker_id)},
            )
        return _speaker_from_row(row)

    def _speaker_by_name(self, conn: sqlite3.Connection, name: str) -> SpeakerInfo | None:
        row = conn.execute(
            f"SELECT {_SPEAKER_COLUMNS} FROM speakers WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else _speaker_from_row(row)

    def _resolve(self, conn: sqlite3.Connection, name_or_id: int | str) -> SpeakerInfo:
        if isinstance(name_or_id, str):
            found = self._speaker_by_name(conn, _clean_name(name_or_id))
            if found is None:
                raise NotFound(
                    f"No speaker named {name_or_id!r} in the library.",
                    location="name",
                    context={"name": name_or_id},
                )
            return found
        return self._speaker_row(conn, name_or_id)

    def _check_name_free(
        self, conn: sqlite3.Connection, name: str, *, except_id: int | None = None
    ) -> None:
        other = self._speaker_by_name(conn, name)
        if other is not None and other.id != except_id:
            raise Conflict(
                f"A speaker named {other.name!r} already exists; choose another name or merge.",
                location="name",
                context={"name": name, "existing_id": other.id},
            )

    def _next_colour(self, conn: sqlite3.Connection) -> str:
        next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM speakers").fetchone()[0]
        return PALETTE[(int(next_id) - 1) % len(PALETTE)]

    def _insert_speaker(
        self, conn: sqlite3.Connection, name: str, notes: str, colour: str | None
    ) -> int:
        self._check_name_free(conn, name)
        now = _now()
        cur = conn.execute(
            "INSERT INTO speakers (name, notes, colour, created, updated) VALUES (?, ?, ?, ?, ?)",
            (name, notes, colour or self._next_colour(conn), now, now),
        )
        return int(cur.lastrowid or 0)

    def _check_model(
        self, conn: sqlite3.Connection, speaker: SpeakerInfo, model_id: str, dim: int,
        location: str,
    ) -> None:
        if self.expected_model_id is not None and model_id != self.expected_model_id:
            raise _mismatch(model_id, self.expected_model_id, location)
        if speaker.model_id is not None:
            if speaker.model_id != model_id:
                raise _mismatch(model_id, speaker.model_id, location)
            row = conn.execute(
                "SELECT dim FROM centroids WHERE speaker = ?", (speaker.id,)
            ).fetchone()
            existing_dim = None if row is None else int(row[0])
            if existing_dim is not None and existing_dim != dim:
                raise InvalidVoiceprint(
                    f"This voiceprint has {dim} dimensions; speaker {speaker.name!r} has "
                    f"{existing_dim}.",
                    location=location,
                )

    def _check_dim(
        self, conn: sqlite3.Connection, model_id: str, dim: int, location: str,
        speaker_name: str | None = None,
    ) -> None:
        """Refuse a vector whose length is not the model's.

        The model's dimension is :data:`engine.encoder.MODEL_DIMS` for the app's own
        models, else that of the voiceprints of this model already in the library. One
        wrong-length vector under the current model id would break every identification.
        """
        from engine.encoder import MODEL_DIMS  # cheap: the module loads torch only on use

        expected = MODEL_DIMS.get(model_id)
        if expected is None:
            row = conn.execute(
                "SELECT dim FROM centroids WHERE model_id = ? LIMIT 1", (model_id,)
            ).fetchone()
            expected = None if row is None else int(row[0])
        if expected is not None and expected != dim:
            who = f"Speaker {speaker_name!r}: its" if speaker_name is not None else "This"
            raise InvalidVoiceprint(
                f"{who} voiceprint has {dim} dimensions, but speaker model {model_id!r} "
                f"makes voiceprints of {expected}; nothing was written.",
                location=location,
                detail="voiceprint.bad-dimension",
                context={"dim": dim, "expected_dim": expected, "model_id": model_id,
                         **({"name": speaker_name} if speaker_name is not None else {})},
            )

    # -- writes ------------------------------------------------------------------------
    def add_speaker(self, name: str, notes: str = "", colour: str | None = None) -> SpeakerInfo:
        """Create a speaker with no enrollments. Raises :class:`Conflict` if the name is taken."""
        name = _clean_name(name)
        notes = _clean_notes(notes)
        colour = _clean_colour(colour) if colour is not None else None
        with self._tx("add speaker") as conn:
            speaker_id = self._insert_speaker(conn, name, notes, colour)
            return self._speaker_row(conn, speaker_id)

    def enroll(
        self,
        name_or_id: int | str,
        voiceprint: Voiceprint,
        seconds: float,
        source: str = "",
        *,
        quality: Any = None,
        clip: np.ndarray | None = None,
    ) -> SpeakerInfo:
        """Add one voiceprint to a speaker (created when ``name_or_id`` is a new name).

        Args:
            name_or_id: speaker name (str; created if new) or id (int; must exist).
            voiceprint: unit-norm voiceprint of the recording.
            seconds: net speech it was extracted from, seconds.
            source: recording file name (directories are dropped: they may be private).
            quality: the recording's ``engine.enroll.QualityReport`` (kept with it), or None.
            clip: the audio the voiceprint came from, ``(n,)`` float32 at 16 kHz, kept as
                a private copy (``engine.enrollment_clips``) so it can be played; None
                keeps none.
        """
        return self.enroll_many(name_or_id, [(voiceprint, seconds, source)],
                                qualities=[quality], clips=[clip])

    def enroll_many(
        self,
        name_or_id: int | str,
        items: Iterable[tuple[Voiceprint, float, str]],
        *,
        qualities: Sequence[Any] | None = None,
        clips: Sequence[np.ndarray | None] | None = None,
    ) -> SpeakerInfo:
        """Add several ``(voiceprint, seconds, source)`` enrollments in ONE transaction.

        ``qualities`` and ``clips``, when given, align with ``items`` (see :meth:`enroll`).
        """
        prepared = []
        for i, (vp, seconds, source) in enumerate(items):
            loc = f"voiceprints[{i}]"
            vector, model_id = _voiceprint_parts(vp, loc)
            prepared.append(
                (vector, model_id, _clean_seconds(seconds, f"{loc}.seconds"),
                 _clean_source(source, f"{loc}.source"))
            )
        if not prepared:
            raise ValidationError("Nothing to enroll.", location="voiceprints")
        if len({p[1] for p in prepared}) > 1 or len({p[0].shape[0] for p in prepared}) > 1:
            raise ModelMismatch(
                "These voiceprints come from different speaker models.", location="voiceprints"
            )
        quality_json = [_quality_json(q) for q in (qualities or [None] * len(prepared))]
        folder = clip_folder(self.path)
        names: list[str] = []
        try:
            for c in clips or [None] * len(prepared):
                names.append("" if c is None else write_clip(folder, c))
            return self._insert_enrollments(name_or_id, prepared, quality_json, names)
        except BaseException:
            delete_clips(folder, names)
            raise

    def _insert_enrollments(
        self, name_or_id: int | str, prepared: list[tuple[np.ndarray, str, float, str]],
        quality_json: list[str], clip_names: list[str],
    ) -> SpeakerInfo:
        if len(quality_json) != len(prepared) or len(clip_names) != len(prepared):
            raise ValidationError("qualities and clips must match the voiceprints one to one.",
                                  location="voiceprints")
        with self._tx("enroll") as conn:
            if isinstance(name_or_id, str):
                name = _clean_name(name_or_id)
                speaker = self._speaker_by_name(conn, name)
                if speaker is None:
                    speaker = self._speaker_row(conn, self._insert_speaker(conn, name, "", None))
            else:
                speaker = self._speaker_row(conn, name_or_id)
            vector0, model_id = prepared[0][0], prepared[0][1]
            self._check_model(conn, speaker, model_id, int(vector0.shape[0]), "voiceprint")
            self._check_dim(conn, model_id, int(vector0.shape[0]), "voiceprint", speaker.name)
            now = _now()
            conn.executemany(
                "INSERT INTO enrollments (speaker, voiceprint, model_id, seconds, source, created,"
                " quality, clip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(speaker.id, _to_blob(v), m, s, src, now, q, c)
                 for (v, m, s, src), q, c in zip(prepared, quality_json, clip_names, strict=True)],
            )
            _refresh_speaker(conn, speaker.id)
            self._touch(speaker.id)
            return self._speaker_row(conn, speaker.id)

    def bulk_enroll(
        self,
        items: Iterable[tuple[str, Voiceprint, float, str]],
    ) -> int:
        """Create many NEW speakers, one ``(name, voiceprint, seconds, source)`` each, in one
        transaction (fast path for benchmarks and migrations). Returns the count.

        Raises :class:`Conflict` (writing nothing) if any name exists or repeats.
        """
        now = _now()
        items = list(items)
        rows: list[tuple[str, str, str, str, str, bytes, str, int, float]] = []
        for i, (name, vp, seconds, _source) in enumerate(items):
            loc = f"items[{i}]"
            vector, model_id = _voiceprint_parts(vp, loc)
            if self.expected_model_id is not None and model_id != self.expected_model_id:
                raise _mismatch(model_id, self.expected_model_id, loc)
            rows.append((
                _clean_name(name, f"{loc}.name"), "", PALETTE[i % len(PALETTE)], now, now,
                _to_blob(vector), model_id, int(vector.shape[0]),
                _clean_seconds(seconds, f"{loc}.seconds"),
            ))
        sources = [_clean_source(it[3]) for it in items]
        with self._tx("bulk enroll") as conn:
            for model_id, dim in {(r[6], r[7]) for r in rows}:
                self._check_dim(conn, model_id, dim, "items")
            start = conn.execute("SELECT COALESCE(MAX(id), 0) FROM speakers").fetchone()[0]
            try:
                conn.executemany(
                    "INSERT INTO speakers (id, name, notes, colour, created, updated,"
                    " model_id, num_enrollments, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                    [(start + 1 + i, *r[:5], r[6], r[8]) for i, r in enumerate(rows)],
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(
                    f"Some of these names already exist in the library ({exc}).",
                    location="items",
                ) from exc
            conn.executemany(
                "INSERT INTO enrollments (speaker, voiceprint, model_id, seconds, source, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (start + 1 + i, r[5], r[6], r[8], sources[i], now)
                    for i, r in enumerate(rows)
                ],
            )
            conn.executemany(
                "INSERT INTO centroids (speaker, model_id, dim, vector) VALUES (?, ?, ?, ?)",
                [(start + 1 + i, r[6], r[7], r[5]) for i, r in enumerate(rows)],
            )
            self._touch(*range(start + 1, start + 1 + len(rows)))
        return len(rows)

    def rename(self, speaker_id: int, new_name: str) -> SpeakerInfo:
        """Rename a speaker. :class:`Conflict` if another speaker has that name."""
        new_name = _clean_name(new_name)
        with self._tx("rename") as conn:
            self._speaker_row(conn, speaker_id)
            self._check_name_free(conn, new_name, except_id=int(speaker_id))
            conn.execute(
                "UPDATE speakers SET name = ?, updated = ? WHERE id = ?",
                (new_name, _now(), int(speaker_id)),
            )
            return self._speaker_row(conn, speaker_id)

    def set_notes(self, speaker_id: int, notes: str) -> SpeakerInfo:
        return self._set_text_field(speaker_id, "notes", _clean_notes(notes))

    def set_colour(self, speaker_id: int, colour: str) -> SpeakerInfo:
        return self._set_text_field(speaker_id, "colour", _clean_colour(colour))

    def _set_text_field(
        self, speaker_id: int, column: Literal["notes", "colour"], value: str
    ) -> SpeakerInfo:
        """Update one already-validated text column of a speaker, in one transaction."""
        with self._tx("edit speaker") as conn:
            self._speaker_row(conn, speaker_id)
            conn.execute(
                f"UPDATE speakers SET {column} = ?, updated = ? WHERE id = ?",
                (value, _now(), int(speaker_id)),
            )
            return self._speaker_row(conn, speaker_id)

    def delete_speaker(self, speaker_id: int) -> SpeakerInfo:
        """Delete a speaker and all its enrollments; returns what was deleted."""
        with self._tx("delete speaker") as conn:
            info = self._speaker_row(conn, speaker_id)
            gone = [r[0] for r in conn.execute(
                "SELECT clip FROM enrollments WHERE speaker = ?", (info.id,))]
            conn.execute("DELETE FROM speakers WHERE id = ?", (int(speaker_id),))
            self._touch(info.id)
        delete_clips(clip_folder(self.path), gone)
        return info

    def delete_enrollment(self, enrollment_id: int) -> SpeakerInfo:
        """Delete one enrollment; returns the updated speaker (kept, even with none left)."""
        with self._tx("delete enrollment") as conn:
            row = conn.execute(
                "SELECT speaker, clip FROM enrollments WHERE id = ?", (int(enrollment_id),)
            ).fetchone()
            if row is None:
                raise NotFound(
                    f"No enrollment with id {enrollment_id}.",
                    location="enrollment_id",
                    context={"id": int(enrollment_id)},
                )
            conn.execute("DELETE FROM enrollments WHERE id = ?", (int(enrollment_id),))
            _refresh_speaker(conn, int(row[0]))
            self._touch(int(row[0]))
            info = self._speaker_row(conn, int(row[0]))
        delete_clips(clip_folder(self.path), [row[1]])
        return info

    def merge(self, into_id: int, from_id: int) -> SpeakerInfo:
        """Move every enrollment of ``from_id`` to ``into_id`` and delete ``from_id``.

        Notes of ``from_id`` are appended to those of ``into_id``. Both must use the
        same speaker model (:class:`ModelMismatch` otherwise).
        """
        if int(into_id) == int(from_id):
            raise ValidationError("Cannot merge a speaker into itself.", location="from_id")
        with self._tx("merge") as conn:
            into = self._speaker_row(conn, into_id)
            src = self._speaker_row(conn, from_id)
            if into.model_id and src.model_id and into.model_id != src.model_id:
                raise _mismatch(src.model_id, into.model_id, "from_id")
            dims = {
                r[0]
                for r in conn.execute(
                    "SELECT dim FROM centroids WHERE speaker IN (?, ?)",
                    (into.id, src.id),
                )
            }
            if len(dims) > 1:
                raise InvalidVoiceprint("These speakers' voiceprints differ in dimension.")
            conn.execute("UPDATE enrollments SET speaker = ? WHERE speaker = ?", (into.id, src.id))
            if src.notes and src.notes not in into.notes:
                notes = (into.notes + "\n" + src.notes).strip()[:MAX_NOTES_CHARS]
                conn.execute("UPDATE speakers SET notes = ? WHERE id = ?", (notes, into.id))
            conn.execute("DELETE FROM speakers WHERE id = ?", (src.id,))
            _refresh_speaker(conn, into.id)
            self._touch(into.id, src.id)
            return self._speaker_row(conn, into.id)

    # -- reads -------------------------------------------------------------------------
    def get(self, speaker_id: int) -> SpeakerInfo:
        """The speaker with this id, or :class:`NotFound`."""
        with self._lock:
            return self._speaker_row(self._conn, speaker_id)

    def get_by_name(self, name: str) -> SpeakerInfo:
        """The speaker with this name (ASCII case ignored), or :class:`NotFound`."""
        with self._lock:
            return self._resolve(self._conn, name)

    def find(self, name_or_id: int | str) -> SpeakerInfo:
        """A speaker by name (str) or id (int)."""
        with self._lock:
            return self._resolve(self._conn, name_or_id)

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM speakers").fetchone()[0])

    def list_speakers(self, *, limit: int | None = None, offset: int = 0) -> list[SpeakerInfo]:
        """All speakers by name (ASCII case ignored); ``limit``/``offset`` page through them."""
        sql = f"SELECT {_SPEAKER_COLUMNS} FROM speakers ORDER BY name, id"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = (int(limit), int(offset))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_speaker_from_row(r) for r in rows]

    def search(self, text: str, *, limit: int | None = None) -> list[SpeakerInfo]:
        """Speakers whose name or notes contain ``text`` (ASCII case ignored), names first."""
        if not isinstance(text, str):
            raise ValidationError("Search text must be text.", location="text")
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", text.strip()) + "%"
        sql = (
            f"SELECT {_SPEAKER_COLUMNS} FROM speakers WHERE name LIKE ?1 ESCAPE '\\' "
            "OR notes LIKE ?1 ESCAPE '\\' "
            "ORDER BY (name LIKE ?1 ESCAPE '\\') DESC, name, id"
        )
        params: tuple[Any, ...] = (pattern,)
        if limit is not None:
            sql += " LIMIT ?2"
            params = (pattern, int(limit))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_speaker_from_row(r) for r in rows]

    def enrollments(self, speaker_id: int) -> list[EnrollmentInfo]:
        """The enrollments of a speaker, oldest first."""
        with self._lock:
            self._speaker_row(self._conn, speaker_id)
            rows = self._conn.execute(
                "SELECT id, speaker, model_id, length(voiceprint) / 4, seconds, source, created,"
                f" {self._enrollment_extras()} FROM enrollments WHERE speaker = ? ORDER BY id",
                (int(speaker_id),),
            ).fetchall()
        out = []
        for r in rows:
            verdict, text = _verdict_of(r[7])
            out.append(EnrollmentInfo(int(r[0]), int(r[1]), r[2], int(r[3]), float(r[4]), r[5],
                                      r[6], verdict, text, bool(r[8])))
        return out

    def enrollment_clip(self, enrollment_id: int) -> np.ndarray | None:
        """The kept audio of one enrollment, ``(n,)`` float32 at 16 kHz (read-only), or None
        when none was kept (or its file is gone)."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {self._enrollment_extras()} FROM enrollments WHERE id = ?",
                (int(enrollment_id),),
            ).fetchone()
        if row is None:
            raise NotFound(f"No enrollment with id {enrollment_id}.", location="enrollment_id")
        return read_clip(clip_folder(self.path), str(row[1]))

    def _enrollment_extras(self) -> str:
        """The ``quality, clip`` columns, or empty stand-ins in a read-only library opened
        at an older schema (it cannot be migrated, and still lists its enrollments)."""
        return "quality, clip" if self.schema_version >= 4 else "'', ''"

    def enrollment_voiceprint(self, enrollment_id: int) -> Voiceprint:
        """The voiceprint of one enrollment."""
        with self._lock:
            row = self._conn.execute(
                "SELECT voiceprint, model_id FROM enrollments WHERE id = ?", (int(enrollment_id),)
            ).fetchone()
        if row is None:
            raise NotFound(f"No enrollment with id {enrollment_id}.", location="enrollment_id")
        return _make_voiceprint(_from_blob(row[0]), row[1])

    def voiceprint(self, speaker_id: int) -> Voiceprint:
        """The speaker's voiceprint: normalised mean of its enrollments.

        :class:`NotFound` (detail ``speaker.no-enrollments``) when it has none.
        """
        with self._lock:
            info = self._speaker_row(self._conn, speaker_id)
            row = self._conn.execute(
                "SELECT vector FROM centroids WHERE speaker = ?", (info.id,)
            ).fetchone()
        if row is None or info.model_id is None:
            raise NotFound(
                f"Speaker {info.name!r} has no enrollments yet: enroll a recording first.",
                location="id",
                detail="speaker.no-enrollments",
                context={"id": info.id},
            )
        return _make_voiceprint(_from_blob(row[0]), info.model_id)

    def model_ids(self) -> dict[str, int]:
        """Speaker models in the library -> number of speakers enrolled with each."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT model_id, COUNT(*) FROM speakers WHERE model_id IS NOT NULL "
                "GROUP BY model_id"
            ).fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def matrix(self, model_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Every enrolled speaker's voiceprint for one model.

        Returns:
            ``(ids, matrix)``: read-only int64 ``(n,)`` speaker ids in row order and a
            read-only float32 ``(n, dim)`` array of unit vectors (``(0, 0)`` when
            none). Cached; the cache follows writes of this process cheaply (changed
            rows are patched in) and is reloaded after another process writes.
        """
        with self._lock:
            data_version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            cache, touched = self._cache, self._touched
            if cache is not None and cache[0] == model_id and cache[1] == data_version:
                if touched is not None and not touched:
                    return cache[2], cache[3]
                if touched is not None:
                    ids, mat = self._patched(model_id, cache[2], cache[3], touched)
                    self._store_cache(model_id, data_version, ids, mat)
                    return ids, mat
            rows = self._conn.execute(
                "SELECT speaker, dim, vector FROM centroids WHERE model_id = ?", (model_id,)
            ).fetchall()
            ids, mat = _stack_rows(rows, model_id)
            self._store_cache(model_id, data_version, ids, mat)
            return ids, mat

    def _store_cache(self, model_id: str, data_version: int, ids: np.ndarray,
                     mat: np.ndarray) -> None:
        ids.setflags(write=False)
        mat.setflags(write=False)
        self._cache = (model_id, data_version, ids, mat)
        self._touched = set()

    def _patched(
        self, model_id: str, ids: np.ndarray, mat: np.ndarray, touched: set[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The cached matrix with the rows of ``touched`` speakers re-read."""
        wanted = sorted(touched)
        rows = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows += self._conn.execute(
                "SELECT speaker, dim, vector FROM centroids WHERE model_id = ? AND speaker IN "
                f"({','.join('?' * len(chunk))})",
                (model_id, *chunk),
            ).fetchall()
        new_ids, new_mat = _stack_rows(rows, model_id)
        kept = np.flatnonzero(~np.isin(ids, np.asarray(wanted, dtype=np.int64)))
        if len(new_ids) == 0:
            return ids[kept], (mat[kept] if len(kept) else np.zeros((0, 0), np.float32))
        dim = int(new_mat.shape[1])
        if len(kept) and mat.shape[1] != dim:
            raise InvalidVoiceprint(
                f"The library holds voiceprints of several dimensions for model {model_id!r}."
            )
        # One pass over the old matrix: a fresh array, never the one callers may hold.
        out = np.empty((len(kept) + len(new_ids), dim), dtype=np.float32)
        if len(kept):
            np.take(mat, kept, axis=0, out=out[: len(kept)])
        out[len(kept) :] = new_mat
        return np.concatenate([ids[kept], new_ids]), out

    def voiceprints(self, model_id: str | None = None) -> dict[str, Voiceprint]:
        """Speaker voiceprints keyed by ``str(speaker id)``, for :func:`engine.identify.identify`.

        Args:
            model_id: only speakers enrolled with this model; default the library's
                ``expected_model_id``, else the only model in the library
                (:class:`ModelMismatch` if it holds several).
        """
        model_id = self._default_model(model_id)
        if model_id is None:
            return {}
        ids, mat = self.matrix(model_id)
        return {str(int(i)): _trusted_voiceprint(mat[k], model_id) for k, i in enumerate(ids)}

    def _default_model(self, model_id: str | None) -> str | None:
        if model_id is not None:
            return model_id
        if self.expected_model_id is not None:
            return self.expected_model_id
        models = self.model_ids()
        if len(models) > 1:
            raise ModelMismatch(
                "The library holds voiceprints of several speaker models; say which one.",
                context={"model_ids": sorted(models)},
            )
        return next(iter(models), None)

    def names(self, ids: Iterable[int | str]) -> dict[str, str]:
        """``str(id) -> name`` for these speaker ids (unknown ids are left out)."""
        wanted = sorted({int(i) for i in ids if str(i).isdigit()})
        out: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for sid, name in self._conn.execute(
                    f"SELECT id, name FROM speakers WHERE id IN ({marks})", chunk
                ):
                    out[str(sid)] = name
        return out

    def identify_vector(
        self, voiceprint: Voiceprint, top_k: int = 5
    ) -> list[tuple[SpeakerInfo, float]]:
        """The ``top_k`` library speakers closest to one voiceprint, best first.

        Returns:
            ``[(speaker, score)]`` with the calibrated 0-100 score
            (:func:`engine.calibration.cosine_to_score`); empty for an empty library.
            :class:`ModelMismatch` when the library has speakers, but none of this model.
        """
        vector, model_id = _voiceprint_parts(voiceprint, "voiceprint")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValidationError("top_k must be a positive integer.", location="top_k")
        ids, mat = self.matrix(model_id)
        if len(ids) == 0:
            others = self.model_ids()
            if others:
                raise _mismatch(model_id, sorted(others)[0], "voiceprint")
            return []
        if mat.shape[1] != vector.shape[0]:
            raise InvalidVoiceprint(
                f"This voiceprint has {vector.shape[0]} dimensions; the library's have "
                f"{mat.shape[1]}.",
                location="voiceprint",
            )
        cosines = mat @ vector
        k = min(top_k, len(ids))
        top = np.argpartition(cosines, len(ids) - k)[-k:] if k < len(ids) else np.arange(len(ids))
        top = top[np.argsort(-cosines[top], kind="stable")]
        scores = cosine_to_score(cosines[top])
        out = []
        with self._lock:
            for rank, row in enumerate(top):
                speaker = self._speaker_row(self._conn, int(ids[int(row)]))
                out.append((speaker, float(scores[rank])))
        return out

    # -- export / import --------------------------------------------------------------
    def export_json(
        self, path: str | os.PathLike[str], ids: Iterable[int] | None = None
    ) -> int:
        """Write speakers (all, or these ids) and their voiceprints to one JSON file.

        The file is written atomically (temporary file + rename) with mode 0600:
        it is biometric data. Returns the number of speakers written.
        """
        path = Path(path)
        with self._lock:
            if ids is None:
                speakers = self.list_speakers()
            else:
                speakers = [self._speaker_row(self._conn, i) for i in dict.fromkeys(ids)]
            models = {s.model_id for s in speakers if s.model_id}
            entries = []
            for s in speakers:
                rows = self._conn.execute(
                    "SELECT voiceprint, model_id, seconds, source, created FROM enrollments"
                    " WHERE speaker = ? ORDER BY id",
                    (s.id,),
                ).fetchall()
                entries.append({
                    "name": s.name,
                    "notes": s.notes,
                    "colour": s.colour,
                    "created": s.created,
                    "enrollments": [
                        {
                            "voiceprint": _make_voiceprint(_from_blob(r[0]), r[1]).to_base64(),
                            "model_id": r[1],
                            "dim": len(r[0]) // 4,
                            "seconds": r[2],
                            "source": r[3],
                            "created": r[4],
                        }
                        for r in rows
                    ],
                })
        doc = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "model_id": models.pop() if len(models) == 1 else None,
            "exported": _now(),
            "speakers": entries,
        }
        write_private_atomic(path, json.dumps(doc, ensure_ascii=False, indent=1).encode())
        return len(entries)

    def import_json(
        self,
        path: str | os.PathLike[str],
        on_conflict: OnConflict = "skip",
        *,
        expected_model_id: str | None = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken | None = None,
    ) -> ImportReport:
        """Import an export file in ONE transaction: all of it, or nothing.

        The file is parsed incrementally (:mod:`engine.export_reader`): memory stays
        flat whatever its size (≤ 512 MiB). Each speaker is validated before it is
        written, and any error anywhere rolls the whole import back: JSON shape,
        format and version, names (≤ 200 characters, NFC, no invisible characters,
        no repeats), voiceprints (base64, finite, L2 norm within
        :data:`NORM_TOLERANCE` of 1, the dimension of their model: :data:`MODEL_DIMS
        <engine.encoder.MODEL_DIMS>` or the library's) and model ids
        (``expected_model_id``, else the library's, must match: :class:`ModelMismatch`).

        Args:
            on_conflict: for a name already in the library: ``"skip"`` the file's
                speaker, ``"rename"`` it (``"Name (2)"``), or ``"merge"`` its
                enrollments into the existing speaker.
            progress, cancel: job hooks; cancelling rolls everything back.
        """
        from engine.export_reader import iter_export, open_export

        if on_conflict not in ("skip", "rename", "merge"):
            raise ValidationError(
                "on_conflict is one of skip, rename, merge.", location="on_conflict"
            )
        if self.read_only:
            raise self._read_only_error()
        expected = expected_model_id or self.expected_model_id
        path = Path(path)
        f, size = open_export(path)
        added: list[str] = []
        skipped: list[str] = []
        renamed: list[tuple[str, str]] = []
        merged: list[str] = []
        written = 0
        checked_dims: set[str] = set()

        def on_speaker(n: int) -> None:
            if n % 200 == 0:
                if cancel is not None:
                    cancel.check()
                progress(min(0.99, f.tell() / max(size, 1)), "Writing")

        with f, self._tx("import") as conn:
            for n, sp in enumerate(iter_export(f, path, expected, on_speaker)):
                sloc = f"speakers[{n}]"
                if sp.vectors and sp.models[0] not in checked_dims:
                    self._check_dim(conn, sp.models[0], int(sp.vectors[0].shape[0]), sloc,
                                    sp.name)
                    checked_dims.add(sp.models[0])
                existing = self._speaker_by_name(conn, sp.name)
                if existing is not None and on_conflict == "skip":
                    skipped.append(sp.name)
                    continue
                if existing is not None and on_conflict == "merge":
                    target = existing
                    if sp.vectors:
                        self._check_model(
                            conn, target, sp.models[0], int(sp.vectors[0].shape[0]), sloc
                        )
                    merged.append(sp.name)
                else:
                    name = sp.name
                    if existing is not None:
                        name = self._free_name(conn, sp.name)
                        renamed.append((sp.name, name))
                    else:
                        added.append(name)
                    target = self._speaker_row(
                        conn, self._insert_speaker(conn, name, sp.notes, sp.colour)
                    )
                if sp.vectors:
                    now = _now()
                    conn.executemany(
                        "INSERT INTO enrollments"
                        " (speaker, voiceprint, model_id, seconds, source, created)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            (target.id, _to_blob(v), m, s, src, now)
                            for v, m, s, src in zip(
                                sp.vectors, sp.models, sp.seconds, sp.sources, strict=True
                            )
                        ],
                    )
                    written += len(sp.vectors)
                    _refresh_speaker(conn, target.id)
                    self._touch(target.id)
            if cancel is not None:
                cancel.check()
            progress(0.99, "Saving")
        progress(1.0, "Imported")
        return ImportReport(tuple(added), tuple(skipped), tuple(renamed), tuple(merged), written)

    def _free_name(self, conn: sqlite3.Connection, name: str) -> str:
        for k in range(2, 100_000):
            suffix = f" ({k})"
            candidate = name[: MAX_NAME_CHARS - len(suffix)] + suffix
            if self._speaker_by_name(conn, candidate) is None:
                return candidate
        raise Conflict(f"No free name like {name!r}.", location="name")  # pragma: no cover


def _stack_rows(rows: Sequence[Any], model_id: str) -> tuple[np.ndarray, np.ndarray]:
    """``(speaker, dim, vector blob)`` rows -> ``(ids int64 (n,), float32 (n, dim))``."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    if not rows:
        return ids, np.zeros((0, 0), dtype=np.float32)
    dims = {int(r[1]) for r in rows}
    if len(dims) != 1:
        raise InvalidVoiceprint(
            f"The library holds voiceprints of several dimensions for model {model_id!r}.",
            context={"dims": sorted(dims)},
        )
    flat = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4")
    return ids, flat.astype(np.float32).reshape(len(rows), dims.pop())


def read_export(path: str | os.PathLike[str]) -> list[tuple[str, Voiceprint]]:
    """The speakers of an export file as ``(name, voiceprint)`` pairs (validated; speakers
    without enrollments are left out). Used by ``vpstudio compare``."""
    from engine.export_reader import iter_export, open_export

    path = Path(path)
    f, _ = open_export(path)
    out = []
    with f:
        for sp in iter_export(f, path, None):
            if sp.vectors:
                out.append(
                    (sp.name, _make_voiceprint(_mean_unit(np.stack(sp.vectors)), sp.models[0]))
                )
    return out
