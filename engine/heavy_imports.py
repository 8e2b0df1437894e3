"""First imports of big native packages (pyannote/pandas, torch) off the main thread.

The window imports some packages only when a job first needs them, on a worker thread.
In the full test run such an import crashed or hung the process three times (torch
during a warm-up; pyannote.metrics -> pandas/Pillow while two scoring jobs started at
once), each time with the GUI thread inside the cyclic garbage collector. Two guards
that cost nothing once a package is loaded: one lock, so two workers never import the
same half-initialised package at once, and the collector paused while the import runs.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading

_lock = threading.Lock()


def load(*names: str) -> None:
    """Import the modules ``names`` (dotted) unless already imported.

    Raises:
        ImportError: a module is not installed (or its import fails); the collector is
            running again by then.
    """
    if all(n in sys.modules for n in names):
        return
    with _lock:
        paused = gc.isenabled()
        gc.disable()
        try:
            for name in names:
                if name not in sys.modules:
                    importlib.import_module(name)
        finally:
            if paused:
                gc.enable()
