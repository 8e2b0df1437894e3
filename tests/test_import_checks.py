"""Imports that could break the library: wrong dimensions, non-unit vectors, look-alike
names, oversized vectors, and memory that grows with the file."""

from __future__ import annotations

import json
import sqlite3
import struct
import tracemalloc
import unicodedata
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine import cli
from engine import library as libmod
from engine import voiceprint as vpmod
from engine.encoder import ECAPA_MODEL_ID
from engine.errors import Conflict, InvalidVoiceprint, ValidationError
from engine.library import EXPORT_FORMAT, Library
from engine.voiceprint import Voiceprint
from tests._helpers_library import MODEL, unit, vp


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(21)


@pytest.fixture
def lib(vp_home: Path):
    library = Library()
    yield library
    library.close()


def raw_blob(vector: np.ndarray, model_id: str) -> str:
    """A valid version-1 blob holding ``vector`` exactly as given (not normalised)."""
    mid = model_id.encode()
    v = np.asarray(vector, dtype="<f4")
    body = struct.pack("<4sHH", b"VPRT", 1, len(mid)) + mid + struct.pack("<I", v.size) + v.tobytes()
    import base64

    return base64.b64encode(body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)).decode()


def export_file(path: Path, speakers: list[tuple[str, str]], model_id: str) -> Path:
    doc = {
        "format": EXPORT_FORMAT, "version": 1, "model_id": model_id,
        "speakers": [
            {"name": name, "enrollments": [{"voiceprint": b64, "model_id": model_id}]}
            for name, b64 in speakers
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = cli.main(["--json", *argv])
    return code, json.loads(capsys.readouterr().out)


# -- dimensions ---------------------------------------------------------------------------------
def test_import_refuses_a_vector_of_the_wrong_dimension_for_the_model(
    capsys, lib: Library, rng, tmp_path: Path
) -> None:
    good = raw_blob(unit(rng, 192), ECAPA_MODEL_ID)
    bad = raw_blob(unit(rng, 10), ECAPA_MODEL_ID)
    path = export_file(tmp_path / "e.json", [("Alice", good), ("Mallory", bad)], ECAPA_MODEL_ID)
    with pytest.raises(InvalidVoiceprint) as err:
        lib.import_json(path, expected_model_id=ECAPA_MODEL_ID)
    assert "Mallory" in err.value.message and err.value.detail == "voiceprint.bad-dimension"
    assert err.value.context["expected_dim"] == 192 and err.value.context["dim"] == 10
    assert lib.count() == 0  # Alice, before Mallory in the file, is rolled back too
    code, data = run_json(capsys, "import", str(path))
    assert code == 2 and data["error"]["type"] == "voiceprint.invalid"
    assert "Mallory" in data["error"]["message"]
    assert lib.count() == 0


def test_wrong_dimension_against_the_library_for_other_models(lib: Library, rng,
                                                              tmp_path: Path) -> None:
    lib.enroll("Ada", vp(rng), 1.0, "a.wav")  # 192-d under MODEL
    path = export_file(tmp_path / "e.json", [("Mallory", raw_blob(unit(rng, 10), MODEL))], MODEL)
    with pytest.raises(InvalidVoiceprint) as err:
        lib.import_json(path)
    assert "Mallory" in err.value.message
    assert [s.name for s in lib.list_speakers()] == ["Ada"]
    with pytest.raises(InvalidVoiceprint):
        lib.enroll("Eve", vp(rng, dim=10), 1.0, "e.wav")
    with pytest.raises(InvalidVoiceprint):
        lib.bulk_enroll([("Eve", vp(rng, dim=10), 1.0, "e.wav")])
    assert lib.count() == 1
    ids, mat = lib.matrix(MODEL)
    assert mat.shape == (1, 192)


def test_one_vector_size_limit(lib: Library) -> None:
    assert libmod.MAX_DIM == vpmod.MAX_DIM == 4096

    class Duck:  # duck-typed voiceprint: skips Voiceprint's own check
        vector = np.ones(5000, np.float32) / np.sqrt(5000)
        model_id = MODEL

    with pytest.raises(InvalidVoiceprint):
        lib.enroll("Big", Duck(), 1.0, "b.wav")  # type: ignore[arg-type]
    assert lib.count() == 0


# -- norm ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", [1000.0, 0.5, 1.02])
def test_import_refuses_vectors_far_from_unit_norm(lib: Library, rng, tmp_path: Path,
                                                   norm: float) -> None:
    v = unit(rng) * np.float32(norm)
    path = export_file(tmp_path / "e.json", [("Big", raw_blob(v, MODEL))], MODEL)
    with pytest.raises(InvalidVoiceprint) as err:
        lib.import_json(path)
    assert err.value.detail == "voiceprint.not-unit-norm" and "Big" in err.value.message
    assert err.value.context["tolerance"] == libmod.NORM_TOLERANCE
    assert lib.count() == 0


def test_import_keeps_vectors_within_the_tolerance(lib: Library, rng, tmp_path: Path) -> None:
    v = unit(rng) * np.float32(1.005)  # float drift well inside 1e-2
    path = export_file(tmp_path / "e.json", [("Ok", raw_blob(v, MODEL))], MODEL)
    assert lib.import_json(path).added == ("Ok",)


# -- names --------------------------------------------------------------------------------------
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u202e",
             "\u2066", "\u061c", "\x01", "\x1f", "\x7f", "\x85", "\x9f", "\t", "\u2028"]


@pytest.mark.parametrize("ch", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_invisible_characters_refused_everywhere(capsys, lib: Library, rng, tmp_path: Path,
                                                 ch: str) -> None:
    lib.enroll("Bob", vp(rng), 1.0, "b.wav")
    other = lib.add_speaker("Robert")
    for attempt in (
        lambda: lib.enroll("Bob" + ch, vp(rng), 1.0, "x.wav"),
        lambda: lib.add_speaker("B" + ch + "ob"),
        lambda: lib.rename(other.id, "Bob" + ch),
        lambda: lib.import_json(
            export_file(tmp_path / "e.json", [(ch + "Bob", vp(rng).to_base64())], MODEL)
        ),
    ):
        with pytest.raises(ValidationError) as err:
            attempt()
        assert err.value.detail == "name.invisible-character"
    assert sorted(s.name for s in lib.list_speakers()) == ["Bob", "Robert"]
    code, data = run_json(capsys, "rename", "Robert", "Bob" + ch)
    assert code == 2 and data["error"]["detail"] == "name.invisible-character"


def test_names_are_nfc(lib: Library, rng, tmp_path: Path) -> None:
    nfd, nfc = "E\u0301mile", "\u00c9mile"
    info = lib.enroll(nfd, vp(rng), 1.0, "e.wav")
    assert info.name == nfc and unicodedata.is_normalized("NFC", info.name)
    assert lib.get_by_name(nfd).id == lib.get_by_name(nfc).id == info.id
    with pytest.raises(Conflict):
        lib.add_speaker(nfc)
    path = export_file(tmp_path / "e.json", [(nfc, vp(rng).to_base64())], MODEL)
    assert lib.import_json(path).skipped == (nfc,)
    assert lib.count() == 1


def test_stored_names_are_cleaned_when_the_library_is_upgraded(vp_home: Path, rng) -> None:
    lib = Library()
    db = lib.path
    lib.close()
    conn = sqlite3.connect(db)
    now = "2026-01-01T00:00:00.000Z"
    for name in ("Bob", "Bob\u200b", "E\u0301mile", "\u202eevil"):
        conn.execute(
            "INSERT INTO speakers (name, notes, colour, created, updated) VALUES (?, '', "
            "'#4e79a7', ?, ?)", (name, now, now),
        )
    # back to the schema-2 tables the previous release wrote (later migrations add columns)
    for column in ("quality", "clip"):
        conn.execute(f"ALTER TABLE enrollments DROP COLUMN {column}")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    lib = Library()
    assert lib.schema_version == libmod.SCHEMA_VERSION >= 3
    assert [s.name for s in sorted(lib.list_speakers(), key=lambda s: s.id)] == [
        "Bob", "Bob (2)", "\u00c9mile", "evil"
    ]
    lib.close()


# -- memory -------------------------------------------------------------------------------------
def test_import_memory_does_not_grow_with_the_file(lib: Library, rng, tmp_path: Path) -> None:
    n = 6000
    vectors = rng.standard_normal((n, 192)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    path = tmp_path / "big.json"
    with open(path, "w") as f:
        f.write(json.dumps({"format": EXPORT_FORMAT, "version": 1, "model_id": MODEL})[:-1])
        f.write(', "speakers": [')
        for i in range(n):
            f.write(("," if i else "") + json.dumps({
                "name": f"Speaker {i}", "notes": "n" * 200,
                "enrollments": [{"voiceprint": Voiceprint(vectors[i], MODEL).to_base64(),
                                 "model_id": MODEL, "seconds": 3.0, "source": "s.wav"}] * 2,
            }))
        f.write("]}")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        report = lib.import_json(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(report.added) == n and report.enrollments == 2 * n
    # json.loads holds the whole text and every object at once (several times the file);
    # the streaming reader holds one speaker
    print(f"import of {size} bytes: tracemalloc peak {peak} bytes")
    assert peak < size / 4, (peak, size)
