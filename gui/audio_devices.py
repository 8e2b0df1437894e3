"""Sound devices through sounddevice, imported lazily and never trusted to exist.

Without PortAudio (sounddevice raises OSError at import) or without an input or
output device, the caller gets ``(None, reason)`` and disables the matching
action with ``reason`` in its tooltip; everything else keeps working.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)


def sounddevice() -> tuple[ModuleType | None, str]:
    """The ``sounddevice`` module, or ``None`` and why it cannot be used."""
    try:
        return importlib.import_module("sounddevice"), ""
    except OSError as exc:  # PortAudio library missing
        return None, f"Sound is unavailable: the PortAudio library is not installed ({exc})."
    except ImportError as exc:
        return None, f"Sound is unavailable: the sounddevice package is missing ({exc})."


def _devices(sd: ModuleType) -> list[dict[str, Any]]:
    try:
        return [dict(d, index=i) for i, d in enumerate(sd.query_devices())]
    except Exception as exc:  # PortAudioError and friends
        log.info("query_devices failed: %s", exc)
        return []


def input_devices() -> tuple[list[dict[str, Any]], str]:
    """Input devices (dicts with ``index``, ``name``, ``max_input_channels``,
    ``default_samplerate``), or ``[]`` and the reason there are none."""
    sd, why = sounddevice()
    if sd is None:
        return [], why
    devs = [d for d in _devices(sd) if int(d.get("max_input_channels", 0)) > 0]
    if not devs:
        return [], "Recording is unavailable: no sound card or microphone was found."
    return devs, ""


def output_available() -> tuple[bool, str]:
    sd, why = sounddevice()
    if sd is None:
        return False, why
    devs = [d for d in _devices(sd) if int(d.get("max_output_channels", 0)) > 0]
    if not devs:
        return False, "Playback is unavailable: no sound output device was found."
    return True, ""


def default_input_index(devs: list[dict[str, Any]]) -> int | None:
    sd, _ = sounddevice()
    try:
        default = sd.default.device  # type: ignore[union-attr]
        idx = int(default[0] if isinstance(default, (list, tuple)) else default)
    except Exception:
        idx = -1
    for d in devs:
        if d["index"] == idx:
            return idx
    return devs[0]["index"] if devs else None
