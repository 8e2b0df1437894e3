"""Entry script of the frozen app (PyInstaller needs a script, not an entry point).

    voiceprint-studio [FILE]            the window (``gui.app.main``)
    voiceprint-studio --self-test       offscreen engine round trip, exit 0 on success
    voiceprint-studio cli ARGS...       the ``vpstudio`` command line (``engine.cli.main``),
                                        so one frozen folder carries both programs
"""

from __future__ import annotations

import multiprocessing
import sys


def run() -> int:
    multiprocessing.freeze_support()  # torch / joblib may spawn helpers in a frozen app
    if len(sys.argv) > 1 and sys.argv[1] == "cli":
        from engine.cli import main as cli_main

        return int(cli_main(sys.argv[2:]))
    from gui.app import main

    return int(main())


if __name__ == "__main__":
    sys.exit(run())
