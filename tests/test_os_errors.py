"""Operating-system failures are typed errors, through the engine and the ``vpstudio`` CLI.

Made real where the machine allows: a full disk is a small tmpfs filled to the last
byte (root), read-only is a tmpfs remounted read-only or another user, permission
denied is a file read by the unprivileged user ``nobody``. SQLite's own "database or
disk is full" is also reached everywhere through ``PRAGMA max_page_count``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine import cli
from engine import library as libmod
from engine.errors import VPError
from engine.library import Library
from tests._helpers_library import MODEL, vp
from tests._helpers_os import (
    NOBODY,
    ROOT,
    cli_as,
    fill,
    is_root,
    remount_read_only,
    small_disk,
    world_dir,
)

DATA = Path(__file__).parent / "data"
WAV = DATA / "arctic_slt_a0009.wav"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = cli.main(["--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def error(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, data = run_json(capsys, *argv)
    assert code != 0 and "error" in data, data
    assert data["error"]["type"] != "internal.error", data
    return data["error"]


# -- disk full --------------------------------------------------------------------------------
def test_sqlite_full_is_disk_full_not_rollback_error(vp_home: Path, rng) -> None:
    lib = Library()
    lib.enroll("Ada", vp(rng), 1.0, "a.wav")
    pages = lib._conn.execute("PRAGMA page_count").fetchone()[0]
    lib._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's SQLITE_FULL
    with pytest.raises(VPError) as err:
        for i in range(200):
            lib.enroll(f"S{i}", vp(rng), 1.0, "s.wav")
    assert err.value.type == "library.disk-full"
    assert "full" in err.value.message and "rollback" not in err.value.message
    lib._conn.execute("PRAGMA max_page_count = 1073741823")
    lib.enroll("Later", vp(rng), 1.0, "l.wav")  # the connection is still usable
    assert lib._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    lib.close()


def test_full_disk_every_write_and_export(capsys, rng, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_current_model_id", lambda: MODEL)
    with small_disk("8m") as disk:
        home = disk / "home"
        lib = Library(home / "library.sqlite3")
        for name in ("Ada", "Bob"):
            lib.enroll(name, vp(rng), 1.0, f"{name}.wav")
        src = Library(tmp_path / "src.sqlite3")
        src.bulk_enroll((f"Imp {i}", vp(rng), 1.0, "x.wav") for i in range(2000))
        src.export_json(tmp_path / "big.json")
        src.close()
        lib.close()
        home_arg = ["--home", str(home)]
        filler = fill(disk)
        # Not a byte left: SQLite cannot even grow its -shm file. Reads still work.
        code, data = run_json(capsys, *home_arg, "speakers")
        assert code == 0 and [s["name"] for s in data["speakers"]] == ["Ada", "Bob"]
        for argv in (("import", str(tmp_path / "big.json")), ("rename", "Ada", "Eve"),
                     ("delete", "Bob", "--yes")):
            err = error(capsys, *home_arg, *argv)
            assert err["type"] == "library.disk-full", (argv, err)
            assert "Free some space" in err["message"]
        err = error(capsys, *home_arg, "export", str(disk / "out.json"))
        assert err["type"] == "library.disk-full", err
        assert not (disk / "out.json").exists()
        assert not [p for p in disk.iterdir() if p.name.endswith(".tmp")]
        # 300 kB free: the library opens, the 2.4 MB import fails half-way (ENOSPC in
        # SQLite's WAL) and is rolled back whole
        os.truncate(filler, filler.stat().st_size - 300_000)
        err = error(capsys, *home_arg, "import", str(tmp_path / "big.json"))
        assert err["type"] == "library.disk-full", err
        assert "rollback" not in err["message"]
        code, data = run_json(capsys, *home_arg, "speakers")
        assert code == 0 and [s["name"] for s in data["speakers"]] == ["Ada", "Bob"]
        # with space again everything works
        filler.unlink()
        code, data = run_json(capsys, *home_arg, "import", str(tmp_path / "big.json"))
        assert code == 0 and data["enrollments"] == 2000, data
        conn = sqlite3.connect(home / "library.sqlite3")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()


# -- names over 255 bytes --------------------------------------------------------------------
def test_long_comma_separated_names_in_compare(capsys, vp_home: Path, rng) -> None:
    names = [f"Speaker number {i:03d}" for i in range(40)]  # about 800 bytes in one argument
    lib = Library()
    lib.bulk_enroll((n, vp(rng), 1.0, "x.wav") for n in names)
    lib.close()
    code, data = run_json(capsys, "compare", ",".join(names), ",".join(names[:3]))
    assert code == 0 and data["a"] == names and np.array(data["score"]).shape == (40, 3)


def test_name_list_limit_is_reachable_through_names(capsys, vp_home: Path, rng,
                                                    tmp_path: Path) -> None:
    from engine.compare import MAX_LIST

    lib = Library()
    lib.bulk_enroll((f"n{i}", vp(rng), 1.0, "x.wav") for i in range(MAX_LIST))
    lib.close()
    names = [f"n{i}" for i in range(MAX_LIST)]
    code, data = run_json(capsys, "compare", ",".join(names), "n0")
    assert code == 0 and len(data["score"]) == MAX_LIST
    err = error(capsys, "compare", ",".join([*names, "n0"]), "n0")
    assert err["type"] == "request.size-limit-exceeded"
    assert err["context"]["max_length"] == MAX_LIST
    # a real command line holds at most 128 KiB per argument: @LIST, one name per line
    listing = tmp_path / "names.txt"
    listing.write_text("\n".join([*names, "n0"]) + "\n")
    code, data = cli_as(None, "--home", str(vp_home), "compare", f"@{listing}", "n0",
                        home=vp_home)
    assert data["error"]["type"] == "request.size-limit-exceeded"
    listing.write_text("\n".join(names[:3]))
    code, data = run_json(capsys, "compare", f"@{listing}", "n0")
    assert code == 0 and data["a"] == names[:3]


@pytest.mark.parametrize("command", ["identify", "voiceprint", "enroll"])
def test_long_file_name_is_typed(capsys, tmp_path: Path, command: str) -> None:
    long = str(tmp_path / ("x" * 300 + ".wav"))
    argv = {
        "identify": ["identify", long],
        "voiceprint": ["voiceprint", long, "-o", str(tmp_path / "o.vp")],
        "enroll": ["enroll", "Ada", long],
    }[command]
    err = error(capsys, *argv)
    assert err["type"] == "media.unreadable" and err["detail"] == "media.name-too-long"
    assert "255" in err["message"]


def test_long_output_name_is_typed(capsys, vp_home: Path, tmp_path: Path) -> None:
    err = error(capsys, "export", str(tmp_path / ("y" * 300 + ".json")))
    assert err["type"] == "request.validation-error" and err["detail"] == "file.name-too-long"


# -- export targets ---------------------------------------------------------------------------
def test_export_to_a_folder_or_a_missing_folder(capsys, vp_home: Path, tmp_path: Path,
                                                rng) -> None:
    lib = Library()
    lib.enroll("Ada", vp(rng), 1.0, "a.wav")
    lib.close()
    err = error(capsys, "export", str(tmp_path))
    assert err["type"] == "request.validation-error" and err["detail"] == "file.is-a-directory"
    missing = tmp_path / "no" / "such" / "out.json"
    err = error(capsys, "export", str(missing))
    assert err["detail"] == "file.folder-missing" and str(missing.parent) in err["message"]
    assert not (tmp_path / "no").exists()  # never created silently
    with pytest.raises(VPError) as exc:
        Library().export_json(missing)
    assert exc.value.detail == "file.folder-missing"


# -- unreadable input files -------------------------------------------------------------------
def test_unreadable_audio_says_permission_denied(capsys, tmp_path: Path) -> None:
    if not is_root():
        secret = tmp_path / "secret.wav"
        shutil.copy(WAV, secret)
        secret.chmod(0)
        err = error(capsys, "voiceprint", str(secret), "-o", str(tmp_path / "o.vp"))
    else:  # root reads anything: ask the kernel as the unprivileged user nobody
        where = world_dir()
        try:
            secret = where / "secret.wav"
            shutil.copy(WAV, secret)
            secret.chmod(0o600)
            home = where / "home"
            home.mkdir(mode=0o777)
            home.chmod(0o777)
            code, data = cli_as(NOBODY, "voiceprint", str(secret), "-o", str(home / "o.vp"),
                                home=home)
            err = data["error"]
        finally:
            shutil.rmtree(where, ignore_errors=True)
    assert err["type"] == "media.unreadable" and err["detail"] == "media.permission-denied"
    assert "permission denied" in err["message"]


def _mpeg_lookalikes(tmp_path: Path) -> list[Path]:
    """Random bytes behind an MPEG sync word: libsndfile's MP3 probe fails on them with
    "File does not exist or is not a regular file (possibly a pipe?)"."""
    import soundfile as sf

    rng = np.random.default_rng(1)
    found = []
    for i in range(30):
        p = tmp_path / f"noise{i}.wav"
        p.write_bytes(b"\xff\xfb" + rng.bytes(100_000))
        try:
            sf.SoundFile(p).close()
        except sf.LibsndfileError as exc:
            if "possibly a pipe" in str(exc):
                found.append(p)
    return found


def test_random_bytes_say_format_not_recognised(capsys, tmp_path: Path) -> None:
    files = _mpeg_lookalikes(tmp_path)
    assert files, "no sample reproduced libsndfile's misleading message"
    for p in files[:3]:
        err = error(capsys, "voiceprint", str(p), "-o", str(tmp_path / "o.vp"))
        assert err["detail"] == "media.unsupported-format", err
        assert "not recognised" in err["message"] and "pipe" not in err["message"]


# -- read-only libraries ----------------------------------------------------------------------
def _assert_read_only_behaviour(run, home: Path) -> None:
    code, data = run("speakers")
    assert code == 0 and [s["name"] for s in data["speakers"]] == ["Ada", "Bob"]
    code, data = run("export", str(home.parent / "out" / "exp.json"))
    assert code == 0 and data["speakers"] == 2
    for argv in (("rename", "Ada", "Eve"), ("delete", "Bob", "--yes"),
                 ("import", str(home.parent / "out" / "exp.json"))):
        code, data = run(*argv)
        assert data["error"]["type"] == "library.read-only", (argv, data)
        assert "read-only" in data["error"]["message"]
        assert "damaged" not in data["error"]["message"]


def test_read_only_mount_opens_for_reading(capsys, rng, tmp_path: Path) -> None:
    with small_disk("4m") as disk:
        home = disk / "home"
        lib = Library(home / "library.sqlite3")
        lib.enroll("Ada", vp(rng), 1.0, "a.wav")
        lib.enroll("Bob", vp(rng), 1.0, "b.wav")
        lib.close()
        remount_read_only(disk)
        out = tmp_path / "out"
        out.mkdir()
        home_link = tmp_path / "home"
        home_link.symlink_to(home)

        def run(*argv: str) -> tuple[int, dict]:
            return run_json(capsys, "--home", str(home_link), *argv)

        _assert_read_only_behaviour(run, home_link)
        ro = Library(home / "library.sqlite3")
        assert ro.read_only and len(ro.voiceprints()) == 2  # what identify reads
        ro.close()


@pytest.mark.skipif(not is_root(), reason="creates files for another user")
def test_read_only_folder_and_file_for_another_user(rng) -> None:
    where = world_dir()
    try:
        home = where / "home"
        lib = Library(home / "library.sqlite3")
        lib.enroll("Ada", vp(rng), 1.0, "a.wav")
        lib.enroll("Bob", vp(rng), 1.0, "b.wav")
        lib.close()
        home.chmod(0o755)  # nobody may read, not write, the folder ...
        (home / "library.sqlite3").chmod(0o644)  # ... and the file
        (where / "out").mkdir(mode=0o777)
        (where / "out").chmod(0o777)
        _assert_read_only_behaviour(lambda *argv: cli_as(NOBODY, *argv, home=home), home)
    finally:
        shutil.rmtree(where, ignore_errors=True)


# -- busy -------------------------------------------------------------------------------------
HOLDER = r"""
import sys, time
from engine.library import Library
lib = Library(sys.argv[1])
said = False
def progress(fraction, message=""):
    global said
    if message == "Writing" and not said:
        said = True
        print("HOLDING", flush=True)
        time.sleep(60)
lib.import_json(sys.argv[2], progress=progress)
"""


def test_busy_says_who_holds_the_lock(capsys, monkeypatch: pytest.MonkeyPatch, vp_home: Path,
                                      tmp_path: Path, rng) -> None:
    lib = Library()
    lib.enroll("Ada", vp(rng), 1.0, "a.wav")
    lib.export_json(tmp_path / "exp.json")
    lib.close()
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lib.path), str(tmp_path / "exp.json")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "HOLDING"
        monkeypatch.setattr(libmod, "_BUSY_TIMEOUT_S", 0.3, raising=False)
        err = error(capsys, "rename", "Ada", "Eve")
        assert err["type"] == "library.busy"
        assert f"process {child.pid}" in err["message"] and "import" in err["message"]
        assert "Try again" in err["message"]
        assert err["context"]["holder"]["pid"] == child.pid
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    time.sleep(0.1)
    code, data = run_json(capsys, "rename", "Ada", "Eve")  # a killed holder leaves no lock
    assert code == 0
