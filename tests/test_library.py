"""The voiceprint library: operations, transactions, import/export, schema, file safety."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from engine import library as libmod
from engine.errors import (
    Cancelled,
    Conflict,
    InvalidVoiceprint,
    ModelMismatch,
    NotFound,
    SizeLimitExceeded,
    ValidationError,
)
from engine.jobs import CancelToken
from engine.library import (
    EXPORT_FORMAT,
    PALETTE,
    SCHEMA_VERSION,
    Library,
    SpeakerInfo,
)
from engine.paths import library_path
from engine.voiceprint import Voiceprint
from tests._helpers_library import DIM, MODEL, unit, vp, vp_of


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def lib(tmp_path: Path):
    library = Library(tmp_path / "lib.sqlite3")
    yield library
    library.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- file, schema -------------------------------------------------------------------------------
def test_default_path_is_in_data_home(vp_home: Path) -> None:
    with Library() as library:
        assert library.path == library_path()
        assert library.path.parent == vp_home
        assert library.path.exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_database_files_are_private(lib: Library, rng: np.random.Generator) -> None:
    lib.enroll("Ada", vp(rng), 10.0, "a.wav")
    assert _mode(lib.path) == 0o600
    for suffix in ("-wal", "-shm"):
        p = Path(str(lib.path) + suffix)
        assert p.exists()  # WAL is in use while the connection is open
        assert _mode(p) & 0o077 == 0


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_existing_world_readable_file_is_restricted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    Library(path).close()
    assert _mode(path) == 0o600


def test_wal_and_foreign_keys_on(lib: Library) -> None:
    conn = sqlite3.connect(lib.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert lib._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert lib.schema_version == SCHEMA_VERSION == len(libmod.MIGRATIONS)


def test_migrates_from_version_0(tmp_path: Path) -> None:
    path = tmp_path / "v0.sqlite3"
    sqlite3.connect(path).close()  # an empty database: user_version 0
    with Library(path) as library:
        assert library.schema_version == SCHEMA_VERSION
        tables = {
            r[0] for r in library._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert {"speakers", "enrollments"} <= tables


def test_migrates_version_1_data_and_computes_centroids(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path)
    libmod.MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO speakers (id, name, notes, colour, created, updated) "
        "VALUES (1, 'Old', '', '#4e79a7', 't', 't')"
    )
    a, b = unit(rng), unit(rng)
    for v, s in ((a, 3.0), (b, 4.5)):
        conn.execute(
            "INSERT INTO enrollments (speaker, voiceprint, model_id, seconds, source, created) "
            "VALUES (1, ?, ?, ?, 'x.wav', 't')",
            (v.astype("<f4").tobytes(), MODEL, s),
        )
    conn.commit()
    conn.close()
    with Library(path) as library:
        assert library.schema_version == SCHEMA_VERSION
        info = library.get(1)
        assert (info.num_enrollments, info.seconds, info.model_id) == (2, 7.5, MODEL)
        expected = (a + b) / np.linalg.norm(a + b)
        np.testing.assert_allclose(library.voiceprint(1).vector, expected, atol=1e-6)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(libmod.VPError) as err:
        Library(path)
    assert err.value.type == "library.unsupported-version"


def test_garbage_file_gives_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(libmod.VPError) as err:
        Library(path)
    assert err.value.type == "library.unavailable"
    with pytest.raises(libmod.VPError) as err:
        Library(tmp_path)  # a folder
    assert err.value.type == "library.unavailable"


# -- speakers and enrollments --------------------------------------------------------------------
def test_enroll_creates_then_adds(lib: Library, rng: np.random.Generator) -> None:
    a, b = vp(rng), vp(rng)
    info = lib.enroll("Ada Lovelace", a, 12.5, "/home/me/private/ada1.wav")
    assert isinstance(info, SpeakerInfo)
    assert (info.name, info.num_enrollments, info.seconds, info.model_id) == (
        "Ada Lovelace", 1, 12.5, MODEL
    )
    assert info.colour in PALETTE
    np.testing.assert_allclose(lib.voiceprint(info.id).vector, a.vector, atol=1e-7)
    info2 = lib.enroll("ada lovelace", b, 7.5, "ada2.wav")  # case-insensitive name
    assert info2.id == info.id
    assert (info2.num_enrollments, info2.seconds) == (2, 20.0)
    mean = (a.vector + b.vector) / np.linalg.norm(a.vector + b.vector)
    np.testing.assert_allclose(lib.voiceprint(info.id).vector, mean, atol=1e-6)
    assert abs(np.linalg.norm(lib.voiceprint(info.id).vector) - 1) < 1e-6
    enrollments = lib.enrollments(info.id)
    assert [e.source for e in enrollments] == ["ada1.wav", "ada2.wav"]  # no directories
    assert [e.dim for e in enrollments] == [DIM, DIM]
    # by id too
    info3 = lib.enroll(info.id, vp(rng), 1.0, "c.wav")
    assert info3.num_enrollments == 3


def test_enroll_unknown_id_and_bad_input(lib: Library, rng: np.random.Generator) -> None:
    with pytest.raises(NotFound):
        lib.enroll(99, vp(rng), 1.0, "x.wav")
    with pytest.raises(ValidationError):
        lib.enroll("   ", vp(rng), 1.0, "x.wav")
    with pytest.raises(ValidationError):
        lib.enroll("x" * 201, vp(rng), 1.0, "x.wav")
    with pytest.raises(ValidationError):
        lib.enroll("Bob", vp(rng), float("nan"), "x.wav")
    with pytest.raises(InvalidVoiceprint):
        lib.enroll("Bob", np.ones(DIM), 1.0, "x.wav")  # type: ignore[arg-type]
    assert lib.count() == 0


def test_enroll_other_model_refused(lib: Library, rng: np.random.Generator) -> None:
    info = lib.enroll("Ada", vp(rng), 5.0, "a.wav")
    with pytest.raises(ModelMismatch) as err:
        lib.enroll("Ada", vp(rng, model="other-model"), 5.0, "b.wav")
    assert "re-enroll" in err.value.message
    assert lib.get(info.id).num_enrollments == 1
    strict = Library(lib.path, expected_model_id=MODEL)
    with pytest.raises(ModelMismatch):
        strict.enroll("Bob", vp(rng, model="other-model"), 5.0, "b.wav")
    assert strict.count() == 1  # Bob not created: one transaction
    strict.close()


def test_enroll_many_is_one_transaction(lib: Library, rng: np.random.Generator) -> None:
    with pytest.raises(ModelMismatch):
        lib.enroll_many("Ada", [(vp(rng), 1.0, "a"), (vp(rng, model="m2"), 1.0, "b")])
    assert lib.count() == 0
    info = lib.enroll_many("Ada", [(vp(rng), 1.0, "a"), (vp(rng), 2.0, "b")])
    assert (info.num_enrollments, info.seconds) == (2, 3.0)


def test_add_rename_notes_colour(lib: Library) -> None:
    a = lib.add_speaker("Ada", notes="mathematician", colour="#AABBCC")
    assert (a.num_enrollments, a.model_id, a.colour, a.notes) == (0, None, "#aabbcc", "mathematician")
    b = lib.add_speaker("Bob")
    assert b.colour in PALETTE
    with pytest.raises(Conflict):
        lib.add_speaker("ADA")
    with pytest.raises(Conflict):
        lib.rename(b.id, "ada")
    renamed = lib.rename(a.id, "Ada Lovelace")
    assert renamed.name == "Ada Lovelace" and renamed.id == a.id
    assert lib.rename(a.id, "ada lovelace").name == "ada lovelace"  # case change of itself
    assert lib.set_notes(a.id, "new notes").notes == "new notes"
    assert lib.set_colour(a.id, "#112233").colour == "#112233"
    with pytest.raises(ValidationError):
        lib.set_colour(a.id, "red")
    with pytest.raises(NotFound):
        lib.rename(12345, "X")
    with pytest.raises(NotFound):
        lib.get_by_name("nobody")
    assert lib.get_by_name("ADA LOVELACE").id == a.id
    with pytest.raises(NotFound) as err:
        lib.voiceprint(a.id)
    assert err.value.detail == "speaker.no-enrollments"


def test_colours_cycle_through_palette(lib: Library) -> None:
    colours = [lib.add_speaker(f"S{i}").colour for i in range(len(PALETTE))]
    assert sorted(colours) == sorted(PALETTE)


def test_delete_speaker_cascades(lib: Library, rng: np.random.Generator) -> None:
    a = lib.enroll("Ada", vp(rng), 1.0, "a")
    lib.enroll("Ada", vp(rng), 1.0, "b")
    b = lib.enroll("Bob", vp(rng), 1.0, "c")
    deleted = lib.delete_speaker(a.id)
    assert deleted.name == "Ada"
    n = lib._conn.execute("SELECT COUNT(*) FROM enrollments").fetchone()[0]
    assert n == 1
    assert [s.id for s in lib.list_speakers()] == [b.id]
    with pytest.raises(NotFound):
        lib.delete_speaker(a.id)


def test_delete_enrollment_updates_voiceprint(lib: Library, rng: np.random.Generator) -> None:
    a, b = vp(rng), vp(rng)
    lib.enroll("Ada", a, 3.0, "a")
    info = lib.enroll("Ada", b, 4.0, "b")
    first, second = lib.enrollments(info.id)
    after = lib.delete_enrollment(first.id)
    assert (after.num_enrollments, after.seconds) == (1, 4.0)
    np.testing.assert_allclose(lib.voiceprint(info.id).vector, b.vector, atol=1e-7)
    empty = lib.delete_enrollment(second.id)
    assert (empty.num_enrollments, empty.model_id, empty.seconds) == (0, None, 0.0)
    assert lib.voiceprints() == {}
    with pytest.raises(NotFound):
        lib.delete_enrollment(second.id)


def test_merge(lib: Library, rng: np.random.Generator) -> None:
    v1, v2, v3 = vp(rng), vp(rng), vp(rng)
    a = lib.enroll("Ada", v1, 1.0, "a")
    lib.set_notes(a.id, "first")
    b = lib.enroll("A. Lovelace", v2, 2.0, "b")
    lib.enroll(b.id, v3, 3.0, "c")
    lib.set_notes(b.id, "second")
    merged = lib.merge(a.id, b.id)
    assert (merged.id, merged.num_enrollments, merged.seconds) == (a.id, 3, 6.0)
    assert "first" in merged.notes and "second" in merged.notes
    with pytest.raises(NotFound):
        lib.get(b.id)
    s = v1.vector + v2.vector + v3.vector
    np.testing.assert_allclose(lib.voiceprint(a.id).vector, s / np.linalg.norm(s), atol=1e-6)
    with pytest.raises(ValidationError):
        lib.merge(a.id, a.id)
    c = lib.enroll("Other", vp(rng, model="m2"), 1.0, "x")
    with pytest.raises(ModelMismatch):
        lib.merge(a.id, c.id)
    assert lib.get(c.id).num_enrollments == 1 and lib.get(a.id).num_enrollments == 3


def test_list_and_search(lib: Library) -> None:
    for name, notes in (("Charlie", ""), ("alice", "works with bob"), ("Bob", ""), ("50%_x", "")):
        lib.add_speaker(name, notes=notes)
    assert [s.name for s in lib.list_speakers()] == ["50%_x", "alice", "Bob", "Charlie"]
    assert [s.name for s in lib.list_speakers(limit=2, offset=1)] == ["alice", "Bob"]
    assert [s.name for s in lib.search("BOB")] == ["Bob", "alice"]  # name match first
    assert [s.name for s in lib.search("%")] == ["50%_x"]  # LIKE wildcards are literal
    assert lib.search("nobody") == []


def test_voiceprints_matrix_and_cache(lib: Library, rng: np.random.Generator) -> None:
    vps = {lib.enroll(f"S{i}", v, 1.0, "x").id: v for i, v in enumerate(vp(rng) for _ in range(5))}
    lib.enroll("Z", vp(rng, model="m2"), 1.0, "x")
    with pytest.raises(ModelMismatch):  # two models, none chosen
        lib.voiceprints()
    got = lib.voiceprints(MODEL)
    assert set(got) == {str(i) for i in vps}
    for key, v in got.items():
        assert isinstance(v, Voiceprint) and v.model_id == MODEL
        assert v.vector.dtype == np.float32 and not v.vector.flags.writeable
        assert v == Voiceprint(np.array(v.vector), MODEL)  # same as a validated one
        np.testing.assert_allclose(v.vector, vps[int(key)].vector, atol=1e-7)
    ids, mat = lib.matrix(MODEL)
    assert mat.shape == (5, DIM) and mat.dtype == np.float32 and not mat.flags.writeable
    ids2, mat2 = lib.matrix(MODEL)
    assert mat2 is mat  # cached
    lib.delete_speaker(ids[0])
    ids3, mat3 = lib.matrix(MODEL)
    assert mat3.shape == (4, DIM) and ids[0] not in ids3
    # a write from another connection (another process) also invalidates the cache
    other = Library(lib.path)
    other.enroll("New", vp(rng), 1.0, "x")
    other.close()
    assert lib.matrix(MODEL)[1].shape == (5, DIM)
    assert lib.names(["1", 2, "UNKNOWN_00"]).get("2") == "S1"


def _as_dict(ids: np.ndarray, mat: np.ndarray) -> dict[int, np.ndarray]:
    return {int(i): mat[k] for k, i in enumerate(ids)}


def test_patched_matrix_cache_equals_fresh_load(lib: Library, rng: np.random.Generator) -> None:
    lib.bulk_enroll((f"P{i}", vp(rng), 1.0, "") for i in range(30))
    ids0, _ = lib.matrix(MODEL)
    p3, p4, p5 = (lib.get_by_name(f"P{i}").id for i in (3, 4, 5))
    lib.enroll(p3, vp(rng), 1.0, "more")  # changed row
    lib.delete_speaker(p4)  # removed row
    lib.merge(p5, lib.get_by_name("P6").id)  # changed + removed
    lib.enroll("Brand new", vp(rng), 1.0, "x")  # added row
    lib.rename(p3, "Renamed")  # no voiceprint change
    only = lib.enroll("Only one", vp(rng), 1.0, "x")
    lib.delete_enrollment(lib.enrollments(only.id)[0].id)  # speaker kept, row removed
    patched = _as_dict(*lib.matrix(MODEL))
    with Library(lib.path) as fresh:
        expected = _as_dict(*fresh.matrix(MODEL))
    assert set(patched) == set(expected) and len(expected) == 30 - 2 + 1
    for key, row in expected.items():
        np.testing.assert_array_equal(patched[key], row)
    assert len(ids0) == 30
    lib.delete_speaker(p3)  # a patch that only removes a row
    ids, mat = lib.matrix(MODEL)
    assert p3 not in set(ids.tolist()) and mat.shape == (28, DIM)
    assert set(_as_dict(ids, mat)) == set(expected) - {p3}


def test_identify_vector(lib: Library, rng: np.random.Generator) -> None:
    vectors = [unit(rng) for _ in range(50)]
    for i, v in enumerate(vectors):
        lib.enroll(f"S{i:02d}", vp_of(v), 1.0, "x")
    probe = vp_of(vectors[17] + 0.3 * unit(rng))
    top = lib.identify_vector(probe, top_k=3)
    assert len(top) == 3
    assert top[0][0].name == "S17"
    scores = [s for _, s in top]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 100 for s in scores)
    assert len(lib.identify_vector(probe, top_k=500)) == 50
    with pytest.raises(ModelMismatch):
        lib.identify_vector(vp(rng, model="m2"))
    with pytest.raises(ValidationError):
        lib.identify_vector(probe, top_k=0)


def test_identify_vector_empty_library(lib: Library, rng: np.random.Generator) -> None:
    assert lib.identify_vector(vp(rng)) == []


def test_bulk_enroll(lib: Library, rng: np.random.Generator) -> None:
    n = lib.bulk_enroll((f"P{i}", vp(rng), 2.0, f"p{i}.wav") for i in range(100))
    assert n == 100 and lib.count() == 100
    info = lib.get_by_name("P5")
    assert (info.num_enrollments, info.seconds, info.model_id) == (1, 2.0, MODEL)
    assert lib.matrix(MODEL)[1].shape == (100, DIM)
    with pytest.raises(Conflict):
        lib.bulk_enroll([("New", vp(rng), 1.0, ""), ("P1", vp(rng), 1.0, "")])
    assert lib.count() == 100


def test_thread_safety(lib: Library, rng: np.random.Generator) -> None:
    vectors = [vp(rng) for _ in range(40)]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(10):
                lib.enroll(f"T{k}-{i}", vectors[k * 10 + i], 1.0, "x")
                lib.list_speakers()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert lib.count() == 40


# -- export / import -----------------------------------------------------------------------------
def _populated(lib: Library, rng: np.random.Generator) -> dict[str, list[Voiceprint]]:
    data = {"Ada": [vp(rng), vp(rng)], "Bob": [vp(rng)], "Chloé 😀": [vp(rng)]}
    for name, vps in data.items():
        for k, v in enumerate(vps):
            lib.enroll(name, v, 10.0 + k, f"{name}{k}.wav")
    lib.set_notes(lib.get_by_name("Bob").id, "the builder")
    lib.add_speaker("Empty")
    return data


def test_export_import_round_trip(lib: Library, rng: np.random.Generator, tmp_path: Path) -> None:
    data = _populated(lib, rng)
    out = tmp_path / "export.json"
    assert lib.export_json(out) == 4
    if os.name == "posix":
        assert _mode(out) == 0o600
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == EXPORT_FORMAT and doc["version"] == 1 and doc["model_id"] == MODEL
    assert not list(tmp_path.glob(".export.json.*"))  # temp file gone

    other = Library(tmp_path / "other.sqlite3")
    report = other.import_json(out)
    assert sorted(report.added) == sorted([*data, "Empty"]) and report.enrollments == 4
    for name, vps in data.items():
        a, b = lib.get_by_name(name), other.get_by_name(name)
        assert b.num_enrollments == len(vps)
        assert (a.notes, a.colour, a.num_enrollments, a.seconds) == (
            b.notes, b.colour, b.num_enrollments, b.seconds
        )
        np.testing.assert_allclose(other.voiceprint(b.id).vector, lib.voiceprint(a.id).vector,
                                   atol=1e-7)
        assert [e.source for e in other.enrollments(b.id)] == [
            e.source for e in lib.enrollments(a.id)
        ]
    assert other.get_by_name("Empty").num_enrollments == 0
    other.close()


def test_export_subset(lib: Library, rng: np.random.Generator, tmp_path: Path) -> None:
    _populated(lib, rng)
    out = tmp_path / "bob.json"
    assert lib.export_json(out, [lib.get_by_name("Bob").id]) == 1
    assert [s["name"] for s in json.loads(out.read_text())["speakers"]] == ["Bob"]
    with pytest.raises(NotFound):
        lib.export_json(out, [999])


@pytest.mark.parametrize("mode", ["skip", "rename", "merge"])
def test_import_conflicts(mode: str, lib: Library, rng: np.random.Generator,
                          tmp_path: Path) -> None:
    src = Library(tmp_path / "src.sqlite3")
    src.enroll("Ada", vp(rng), 5.0, "file.wav")
    src.enroll("New", vp(rng), 5.0, "file.wav")
    path = tmp_path / "x.json"
    src.export_json(path)
    src.close()
    existing = lib.enroll("ADA", vp(rng), 1.0, "mine.wav")
    report = lib.import_json(path, on_conflict=mode)  # type: ignore[arg-type]
    assert report.added == ("New",)
    if mode == "skip":
        assert report.skipped == ("Ada",) and report.enrollments == 1
        assert lib.get(existing.id).num_enrollments == 1 and lib.count() == 2
    elif mode == "rename":
        assert report.renamed == (("Ada", "Ada (2)"),) and report.enrollments == 2
        assert lib.get_by_name("Ada (2)").num_enrollments == 1
        assert lib.get(existing.id).num_enrollments == 1 and lib.count() == 3
    else:
        assert report.merged == ("Ada",) and report.enrollments == 2
        assert lib.get(existing.id).num_enrollments == 2 and lib.count() == 2
    # importing the same file again with rename gives the next free name
    if mode == "rename":
        again = lib.import_json(path, on_conflict="rename")
        assert ("Ada", "Ada (3)") in again.renamed


def _write_export(path: Path, speakers: list[dict], **top: object) -> Path:
    doc = {"format": EXPORT_FORMAT, "version": 1, "model_id": MODEL, "speakers": speakers}
    doc.update(top)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _speaker(name: str, v: Voiceprint, **extra: object) -> dict:
    entry = {"name": name, "enrollments": [{"voiceprint": v.to_base64(), "seconds": 3.0}]}
    entry.update(extra)
    return entry


def test_import_model_mismatch_refused(lib: Library, rng: np.random.Generator,
                                       tmp_path: Path) -> None:
    path = _write_export(tmp_path / "m.json", [_speaker("Ada", vp(rng, model="old-model"))],
                         model_id="old-model")
    with pytest.raises(ModelMismatch) as err:
        lib.import_json(path, expected_model_id=MODEL)
    assert "re-enroll" in err.value.message and err.value.context["model_id"] == "old-model"
    assert lib.count() == 0
    strict = Library(lib.path, expected_model_id=MODEL)
    with pytest.raises(ModelMismatch):
        strict.import_json(path)
    strict.close()
    # the voiceprint blob's own model id must agree with the declared one
    bad = _write_export(tmp_path / "m2.json", [_speaker("Ada", vp(rng, model="old-model"))])
    with pytest.raises(ModelMismatch):
        lib.import_json(bad)
    assert lib.count() == 0


def test_import_merge_into_other_model_refused(lib: Library, rng: np.random.Generator,
                                               tmp_path: Path) -> None:
    lib.enroll("Ada", vp(rng, model="m2"), 1.0, "x")
    path = _write_export(tmp_path / "a.json", [_speaker("Zed", vp(rng)), _speaker("Ada", vp(rng))])
    with pytest.raises(ModelMismatch):
        lib.import_json(path, on_conflict="merge")
    assert lib.count() == 1  # "Zed" was rolled back


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda d: d.update(format="something-else"), ValidationError),
        (lambda d: d.update(version=99), ValidationError),
        (lambda d: d.update(speakers="nope"), ValidationError),
        (lambda d: d["speakers"].append({"name": "x" * 201}), ValidationError),
        (lambda d: d["speakers"].append({"name": "ada"}), ValidationError),  # duplicate
        (lambda d: d["speakers"].append(["not", "an", "object"]), ValidationError),
        (lambda d: d["speakers"][1]["enrollments"][0].update(voiceprint="!!notbase64"),
         InvalidVoiceprint),
        (lambda d: d["speakers"][1]["enrollments"][0].update(seconds=float("inf")),
         ValidationError),
        (lambda d: d["speakers"][1]["enrollments"][0].update(dim=7), InvalidVoiceprint),
        (lambda d: d["speakers"][1].update(colour="blue"), ValidationError),
    ],
)
def test_invalid_import_writes_nothing(mutate, error, lib: Library, rng: np.random.Generator,
                                       tmp_path: Path) -> None:
    doc = {"format": EXPORT_FORMAT, "version": 1, "model_id": MODEL,
           "speakers": [_speaker("Ada", vp(rng)), _speaker("Bob", vp(rng))]}
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(error):
        lib.import_json(path)
    assert lib.count() == 0
    assert lib._conn.execute("SELECT COUNT(*) FROM enrollments").fetchone()[0] == 0


def test_import_wrong_dimension_and_nonfinite(lib: Library, rng: np.random.Generator,
                                              tmp_path: Path) -> None:
    path = _write_export(tmp_path / "d.json",
                         [_speaker("Ada", vp(rng)), _speaker("Bob", vp(rng, dim=64))])
    with pytest.raises(InvalidVoiceprint):
        lib.import_json(path)
    # a well-formed blob (valid checksum) whose vector holds a NaN
    vec = vp(rng)
    blob = bytearray(vec.to_bytes()[:-4])
    start = len(blob) - 4 * DIM
    blob[start : start + 4] = np.array([np.nan], dtype="<f4").tobytes()
    blob += struct.pack("<I", zlib.crc32(bytes(blob)) & 0xFFFFFFFF)
    doc = {"format": EXPORT_FORMAT, "version": 1, "model_id": MODEL, "speakers": [
        {"name": "Nan", "enrollments": [{"voiceprint": base64.b64encode(bytes(blob)).decode()}]}
    ]}
    (tmp_path / "n.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidVoiceprint) as err:
        lib.import_json(tmp_path / "n.json")
    assert err.value.detail == "voiceprint.non-finite"
    assert err.value.location == "speakers[0].enrollments[0].voiceprint"
    assert lib.count() == 0


def test_import_not_json_and_missing(lib: Library, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ValidationError):
        lib.import_json(tmp_path / "x.json")
    with pytest.raises(NotFound):
        lib.import_json(tmp_path / "missing.json")
    with pytest.raises(ValidationError):
        lib.import_json(tmp_path / "x.json", on_conflict="overwrite")  # type: ignore[arg-type]


def test_import_size_limit(lib: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libmod, "MAX_IMPORT_BYTES", 100)
    path = _write_export(tmp_path / "big.json", [{"name": "x" * 150}])
    with pytest.raises(SizeLimitExceeded) as err:
        lib.import_json(path)
    assert err.value.context["max_file_size"] == 100


def test_import_cancel_rolls_back(lib: Library, rng: np.random.Generator, tmp_path: Path) -> None:
    path = _write_export(tmp_path / "c.json", [_speaker(f"S{i}", vp(rng)) for i in range(600)])
    token = CancelToken()
    seen: list[float] = []

    def progress(fraction: float, message: str = "") -> None:
        seen.append(fraction)
        if message == "Writing" and fraction > 0.5:
            token.cancel()

    with pytest.raises(Cancelled):
        lib.import_json(path, progress=progress, cancel=token)
    assert lib.count() == 0
    assert seen == sorted(seen) and max(seen) > 0.5
    report = lib.import_json(path)
    assert len(report.added) == 600 and lib.count() == 600


def test_read_export_gives_mean_voiceprints(lib: Library, rng: np.random.Generator,
                                            tmp_path: Path) -> None:
    data = _populated(lib, rng)
    lib.export_json(tmp_path / "e.json")
    pairs = dict(libmod.read_export(tmp_path / "e.json"))
    assert set(pairs) == set(data)  # "Empty" has no voiceprint
    np.testing.assert_allclose(pairs["Ada"].vector,
                               lib.voiceprint(lib.get_by_name("Ada").id).vector, atol=1e-6)


def test_enrollment_keeps_quality_and_a_private_clip(vp_home: Path) -> None:
    """Issue 12: each enrollment lists its quality and can be played back; removing it
    recomputes the voiceprint from the rest and deletes its clip."""
    from engine.enroll import QualityReport
    from engine.enrollment_clips import clip_folder

    rng = np.random.default_rng(12)
    lib = Library()
    q = QualityReport(net_speech_s=2.1, voices_found=1, clipping_ratio=0.0, level_dbfs=-20.0,
                      snr_db=30.0, verdict="too-short")
    clip = (0.1 * np.sin(np.arange(16000) / 10.0)).astype(np.float32)
    a, b = vp(rng), vp(rng)
    old_umask = os.umask(0)  # the modes are set, not left to the umask
    try:
        lib.enroll("Dave", a, 2.1, "/private/dave.wav", quality=q, clip=clip)
    finally:
        os.umask(old_umask)
    info = lib.enroll("Dave", b, 6.0, "b.wav")
    first, second = lib.enrollments(info.id)
    assert (first.source, first.verdict, first.has_clip) == ("dave.wav", "too-short", True)
    assert first.verdict_text.startswith("Too short: 2.1 s")
    assert (second.verdict, second.has_clip) == ("", False)
    played = lib.enrollment_clip(first.id)
    assert played is not None and np.allclose(played, clip, atol=1e-4)
    assert lib.enrollment_clip(second.id) is None
    files = list(clip_folder(lib.path).iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(clip_folder(lib.path).stat().st_mode) == 0o700
    after = lib.delete_enrollment(first.id)
    assert after.num_enrollments == 1 and after.seconds == pytest.approx(6.0)
    np.testing.assert_allclose(lib.voiceprint(info.id).vector, b.vector, atol=1e-6)
    assert not list(clip_folder(lib.path).iterdir())
    lib.enroll("Dave", a, 3.0, "c.wav", clip=clip)
    lib.delete_speaker(info.id)
    assert not list(clip_folder(lib.path).iterdir())
    lib.close()
