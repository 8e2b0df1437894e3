"""The window's files are the user's only (0600 in 0700 folders, whatever the umask),
and its log names no speaker unless debug logging is on."""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import wait_for  # noqa: E402

from engine import paths  # noqa: E402
from engine.jobs import JobRunner  # noqa: E402
from gui import app as gui_app  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402
from gui.review_model import ReviewModel  # noqa: E402
from gui.settings import Settings  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "pyannote_sample.wav"
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
NAME = "Zelda Quartermaine"


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def app_log(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The window's real logging set-up (``debug`` from the test's param), removed after."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    gui_app._setup_logging(debug=getattr(request, "param", False))
    try:
        yield paths.log_dir() / "voiceprint-studio.log"
    finally:
        for h in root.handlers:
            if h not in before:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)


def test_settings_file_is_0600(vp_home: Path, open_umask: None) -> None:
    s = Settings()
    s.set("volume", 3)
    assert s.path == paths.settings_path()
    assert mode(s.path) == 0o600 and mode(vp_home) == 0o700
    assert Settings().get("volume") == 3
    assert sorted(p.name for p in vp_home.iterdir()) == ["settings.json"]  # no temp left


def test_session_and_its_recording_are_0600(tmp_path: Path, open_umask: None) -> None:
    from engine.audio import load_audio
    from gui.engine_facade import Engine

    session = tmp_path / "talk.vpsession.json"
    ReviewModel([], names={"S1": NAME}).save_session(session, None)
    assert mode(session) == 0o600
    wav = tmp_path / "talk.wav"
    Engine().save_wav(load_audio(SAMPLE), wav)
    assert mode(wav) == 0o600 and wav.stat().st_size > 1000


def test_log_folder_and_file_are_private(vp_home: Path, open_umask: None, app_log: Path) -> None:
    logging.getLogger("gui").warning("something")
    assert mode(app_log.parent) == 0o700 and mode(app_log) == 0o600
    assert "something" in app_log.read_text(encoding="utf-8")


def _enroll(qtbot, w: MainWindow, name: str) -> None:
    w.open_path(SAMPLE)
    wait_for(qtbot, lambda: w.audio is not None)
    w.prompts.texts = [name]
    w.timeline.set_selection(2.0, 7.0)
    w.enroll_from_selection()
    wait_for(qtbot, lambda: len(w.speakers) == 1)
    assert name in w.status_label.text()  # the status line names the speaker ...


def test_log_holds_no_speaker_names(qtbot, win: MainWindow, app_log: Path) -> None:
    _enroll(qtbot, win, NAME)
    runner = JobRunner(synchronous=True)

    def fails(progress, cancel):  # an unexpected error whose message names a speaker
        raise RuntimeError(f"cannot merge {NAME}")

    runner.submit("merge", fails)
    text = app_log.read_text(encoding="utf-8")
    assert "RuntimeError" in text and "job" in text  # ... the failure is logged ...
    assert "Zelda" not in text  # ... but no name reaches the log


@pytest.mark.parametrize("app_log", [True], indirect=True)
def test_debug_logging_keeps_names(qtbot, win: MainWindow, app_log: Path) -> None:
    _enroll(qtbot, win, NAME)
    runner = JobRunner(synchronous=True)
    runner.submit("merge", lambda p, c: (_ for _ in ()).throw(RuntimeError(f"no {NAME}")))
    text = app_log.read_text(encoding="utf-8")
    assert f"Enrolled {NAME}" in text and f"RuntimeError: no {NAME}" in text


def test_file_dialog_history_stays_in_the_data_folder(qtbot, vp_home: Path, tmp_path: Path,
                                                      open_umask: None) -> None:
    """Qt's dialog saves the visited folders (where the recordings are) to QtProject.conf:
    in the data folder, 0600, not in ~/.config."""
    import shiboken6
    from PySide6.QtWidgets import QFileDialog

    from gui import qt_settings

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (recordings / "talk.wav").write_bytes(b"")
    folder = qt_settings.redirect()
    assert folder == vp_home / "qt" and mode(folder) == 0o700
    d = QFileDialog(None, "Open", str(recordings), "*.wav")
    d.setOption(QFileDialog.Option.DontUseNativeDialog)
    d.selectFile(str(recordings / "talk.wav"))
    d.accept()
    shiboken6.delete(d)  # Qt writes its settings when the dialog is destroyed
    conf = folder / "QtProject.conf"
    assert str(recordings) in conf.read_text(encoding="utf-8")
    qt_settings.tighten()
    assert mode(conf) == 0o600
