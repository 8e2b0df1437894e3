"""Private copies of the audio each enrollment was made from.

Kept so that a person can listen to what went into a speaker's voiceprint and remove
the one recording that is someone else (issue 12): a voiceprint alone cannot be
played back. The clips are biometric data like the voiceprints, so they live next to
the library in a 0700 folder, each file 0600, written atomically; they are deleted
with their enrollment and never exported.

Files are 16 kHz mono FLAC (16-bit): at most 30 s of speech, about 0.5 MB each.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import numpy as np

from engine.errors import ValidationError
from engine.private_files import open_private, private_dir

RATE = 16000
"""Sample rate of the stored clips, Hz (engine audio)."""
FOLDER = "enrollment_audio"
"""Sub-folder of the library's folder holding the clips."""


def clip_folder(library_path: Path) -> Path:
    """The folder holding the clips of the library at ``library_path``."""
    return Path(library_path).parent / FOLDER


def write_clip(folder: Path, samples: np.ndarray) -> str:
    """Store ``samples`` (``(n,)`` float32 in [-1, 1], 16 kHz) privately; return its file name.

    Raises:
        ValidationError: not a finite 1-D float array.
    """
    x = np.asarray(samples)
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating) or not np.isfinite(x).all():
        raise ValidationError("An enrollment clip is a finite mono float array.",
                              location="clip")
    import soundfile as sf  # only when a clip is written: listing speakers stays light

    private_dir(folder)
    name = f"{uuid.uuid4().hex}.flac"
    tmp = folder / f".{name}.tmp"
    try:
        with open_private(tmp, "xb") as f:
            sf.write(f, np.clip(x.astype(np.float32), -1.0, 1.0), RATE, format="FLAC",
                     subtype="PCM_16")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return name


def read_clip(folder: Path, name: str) -> np.ndarray | None:
    """The clip's samples ``(n,)`` float32 at 16 kHz, or None when it is not there."""
    path = folder / Path(name).name  # a name from the database, never a path
    if not name or not path.is_file():
        return None
    import soundfile as sf

    x, _rate = sf.read(path, dtype="float32", always_2d=False)
    out = np.ascontiguousarray(x, dtype=np.float32)
    out.setflags(write=False)
    return out


def delete_clips(folder: Path, names: list[str]) -> None:
    """Remove clips by file name; missing ones are ignored (already gone)."""
    for name in names:
        if name:
            with contextlib.suppress(OSError):
                (folder / Path(name).name).unlink()
