"""Everything under the data folder is the user's only: 0700 folders, 0600 files,
whatever the umask; a data folder with loose permissions is tightened, and says so."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import paths
from engine.private_files import (
    PrivateFileHandler,
    make_tree_private,
    open_private,
    private_dir,
    write_private,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000: a helper that relied on mkdir/open mode arguments alone would make
    0777 folders and 0666 files here."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_private_dir_creates_every_missing_level_0700(tmp_path: Path, open_umask: None) -> None:
    tmp_path.chmod(0o755)
    d = private_dir(tmp_path / "a" / "b" / "c")
    assert d.is_dir()
    assert [mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o700] * 3
    assert mode(tmp_path) == 0o755  # an existing parent is not the app's to change
    assert private_dir(d) == d  # idempotent


@pytest.mark.parametrize("how", ["w", "a", "wb", "ab"])
def test_open_private_creates_and_tightens_0600(tmp_path: Path, open_umask: None,
                                                 how: str) -> None:
    new = tmp_path / f"new-{how}"
    with open_private(new, how) as f:
        f.write(b"x" if "b" in how else "x")
    assert mode(new) == 0o600
    old = tmp_path / f"old-{how}"
    old.write_text("before\n")
    old.chmod(0o644)
    with open_private(old, how) as f:
        f.write(b"y" if "b" in how else "y")
    assert mode(old) == 0o600
    assert old.read_text() == ("before\ny" if how.startswith("a") else "y")


def test_open_private_refuses_reading_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        open_private(tmp_path / "f", "r")


def test_write_private_is_atomic_and_0600(tmp_path: Path, open_umask: None) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, '{"a": 1}')
    assert target.read_text() == '{"a": 1}' and mode(target) == 0o600
    write_private(target, b"bytes")
    assert target.read_bytes() == b"bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]  # no temp left


def test_write_private_leaves_the_old_file_when_it_fails(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    target.write_text("old")


    with pytest.raises(OSError):
        write_private(tmp_path / "missing-folder" / "x.json", "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_make_tree_private_tightens_but_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "model.ckpt"
    outside.write_text("weights")
    outside.chmod(0o644)
    root = tmp_path / "home"
    (root / "logs").mkdir(parents=True)
    root.chmod(0o755)
    (root / "logs").chmod(0o777)
    (root / "logs" / "a.log").write_text("x")
    (root / "logs" / "a.log").chmod(0o666)
    (root / "settings.json").write_text("{}")
    (root / "settings.json").chmod(0o644)
    (root / "link").symlink_to(outside)
    changed = make_tree_private(root)
    assert {p.relative_to(root).as_posix() for p in changed} == {
        ".", "logs", "logs/a.log", "settings.json"}
    assert mode(root) == 0o700 and mode(root / "logs") == 0o700
    assert mode(root / "logs" / "a.log") == 0o600 and mode(root / "settings.json") == 0o600
    assert mode(outside) == 0o644
    assert make_tree_private(root) == []


def test_make_tree_private_only_touches_named_entries(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    root.chmod(0o755)
    (root / "holiday.txt").write_text("mine")
    (root / "holiday.txt").chmod(0o644)
    (root / "settings.json").write_text("{}")
    (root / "settings.json").chmod(0o644)
    make_tree_private(root, ["settings.json", "logs"])
    assert mode(root) == 0o700 and mode(root / "settings.json") == 0o600
    assert mode(root / "holiday.txt") == 0o644  # the user's own file, not the app's


def test_loose_home_folder_is_tightened_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    open_umask: None,
) -> None:
    """A --home / VPSTUDIO_HOME made by hand (or by an older version) with 0755/0644."""
    home = tmp_path / "vp"
    (home / "logs").mkdir(parents=True)
    home.chmod(0o755)
    (home / "logs").chmod(0o755)
    for name in ("settings.json", "logs/voiceprint-studio.log", "library.sqlite3"):
        (home / name).write_text("")
        (home / name).chmod(0o644)
    (home / "notes.txt").write_text("the user's own")
    (home / "notes.txt").chmod(0o644)
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    with caplog.at_level(logging.WARNING, logger="engine.paths"):
        assert paths.data_home() == home
    assert mode(home) == 0o700 and mode(home / "logs") == 0o700
    for name in ("settings.json", "logs/voiceprint-studio.log", "library.sqlite3"):
        assert mode(home / name) == 0o600, name
    assert mode(home / "notes.txt") == 0o644
    assert any("now private" in r.getMessage() and str(home) in r.getMessage()
               for r in caplog.records), caplog.text


def test_fresh_home_is_created_private_and_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    open_umask: None,
) -> None:
    home = tmp_path / "new" / "vp"
    monkeypatch.setenv(paths.HOME_ENV, str(home))
    with caplog.at_level(logging.WARNING):
        paths.data_home()
        logs = paths.log_dir()
    assert mode(home) == 0o700 and mode(home.parent) == 0o700 and mode(logs) == 0o700
    assert not caplog.records


def test_home_flag_on_a_shared_sticky_folder_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: chmod-ing it would break other users
    monkeypatch.setenv(paths.HOME_ENV, str(shared))
    with caplog.at_level(logging.WARNING, logger="engine.private_files"):
        paths.data_home()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert "left as they are" in caplog.text


def test_cache_folder_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 open_umask: None) -> None:
    monkeypatch.setenv(paths.CACHE_ENV, str(tmp_path / "c" / "vp"))
    assert mode(paths.cache_home()) == 0o700


def test_private_file_handler_writes_a_0600_log(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "app.log"
    path.write_text("")
    path.chmod(0o644)
    handler = PrivateFileHandler(path, encoding="utf-8")
    try:
        handler.emit(logging.makeLogRecord({"msg": "hello", "levelno": logging.INFO}))
    finally:
        handler.close()
    assert mode(path) == 0o600 and "hello" in path.read_text()
