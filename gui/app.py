"""``voiceprint-studio``: open the window, or ``--self-test`` the installed app.

    voiceprint-studio [--home DIR] [--debug] [FILE]
    voiceprint-studio --self-test [--home DIR] [--timeout S]

``--self-test`` starts Qt offscreen, builds the main window, runs
:func:`engine.selftest.run` on the job runner (as the window runs every engine
job), prints a JSON summary on stdout and exits 0 on success, 1 on failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from engine import paths

log = logging.getLogger("gui")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="voiceprint-studio",
        description="Offline speaker identification: enroll voiceprints, find who speaks "
        "when, review and export.",
    )
    p.add_argument("file", nargs="?", help="audio file or .vpsession.json session to open")
    p.add_argument("--home", metavar="DIR",
                   help="folder for the library, settings and logs (default: the user data "
                   "folder; also settable with VPSTUDIO_HOME)")
    p.add_argument("--self-test", action="store_true",
                   help="start offscreen, run a short real engine round trip, print a JSON "
                   "summary and exit 0 (ok) or 1 (failure)")
    p.add_argument("--debug", action="store_true",
                   help="debug logging: the log file then also holds status lines and error "
                   "messages, which may name speakers")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds the self-test may take (default 600)")
    return p.parse_args(list(sys.argv[1:] if argv is None else argv))


def _setup_logging(debug: bool = False) -> None:
    """The log file (0600, in a 0700 folder of the data folder); names only when ``debug``
    (engine/log_privacy.py)."""
    from engine.log_privacy import PrivateFormatter
    from engine.private_files import PrivateFileHandler

    try:
        handler: logging.Handler = PrivateFileHandler(
            paths.log_dir() / "voiceprint-studio.log", encoding="utf-8")
    except OSError:
        handler = logging.StreamHandler()
    handler.setFormatter(PrivateFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                          debug=debug))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)


def make_app(argv: Sequence[str] | None = None) -> Any:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from gui import qt_settings

    # before any QSettings or file dialog: Qt's settings go to the data folder, not ~/.config
    qt_settings.redirect()
    app = QApplication.instance()
    if app is None:
        # fractional scale factors (125 %, 150 %) as the desktop asks, not rounded
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication([sys.argv[0] if sys.argv else "voiceprint-studio", *(argv or [])])
    app.setApplicationName("Voiceprint Studio")
    app.setOrganizationName("VoiceprintStudio")
    app.setApplicationVersion(__import__("engine").__version__)
    app.setDesktopFileName("voiceprint-studio")
    from PySide6.QtGui import QIcon

    from gui.main_window import resource_path

    icon = resource_path("icon.png")
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True)
    return app


def self_test(timeout: float = 600.0) -> int:
    """Build the window offscreen, run the engine self-test as a job, print JSON, return rc."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    summary: dict[str, Any] = {"ok": False}
    try:
        app = make_app()
        from gui.main_window import MainWindow

        window = MainWindow(offer_restore=False)  # unattended: no question may block it
        window.show()
        app.processEvents()
        summary["gui"] = {
            "window": window.isVisible(),
            "menus": [m.title().replace("&", "") for m in window.menus.values()],
            "docks": [window.library_dock.windowTitle(), window.table_dock.windowTitle()],
            "record_enabled": window.actions["record"].isEnabled(),
            "record_reason": window.record_reason,
            "speakers": len(window.speakers),
            "startup_s": round(time.perf_counter() - t0, 3),
        }
        from engine import selftest

        job_id = window.bridge.submit("selftest", lambda p, c: selftest.run(progress=p, cancel=c))
        deadline = time.monotonic() + timeout
        while "selftest" not in window.bridge.last and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.02)
        snap = window.bridge.last.get("selftest")
        if snap is None:
            window.bridge.cancel(job_id)
            summary["error"] = f"self-test did not finish within {timeout:.0f} s"
        elif snap.state.value != "succeeded":
            summary["error"] = snap.error.to_dict() if snap.error else snap.state.value
        else:
            summary["engine"] = snap.result
            summary["ok"] = bool(snap.result.get("ok")) and summary["gui"]["window"]
        window.close()
    except Exception as exc:  # the summary is the product of a self-test: always print it
        log.exception("self-test crashed")
        summary["error"] = f"{type(exc).__name__}: {exc}"
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(summary, indent=1, default=str))
    sys.stdout.flush()
    return 0 if summary["ok"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.home:
        paths.set_data_home(args.home)
    _setup_logging(args.debug)
    if args.self_test:
        return self_test(args.timeout)
    app = make_app()
    from gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    if args.file:
        window.open_path(args.file)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
