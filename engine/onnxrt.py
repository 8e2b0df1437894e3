"""The one door to ONNX Runtime: every session in the engine is made here.

ONNX Runtime sends usage telemetry and writes a device id in the user's home unless
``ORT_DISABLE_TELEMETRY=1`` is in the environment when it is imported; ``engine``
sets it on import (engine/offline.py). The API switch is also called here: it is the
one that governs the Windows (ETW) provider, and costs nothing elsewhere.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from engine import offline

log = logging.getLogger(__name__)
_lock = threading.Lock()
_ready = False


def runtime() -> Any:
    """The ``onnxruntime`` module, with telemetry disabled (idempotent, thread-safe)."""
    global _ready
    with _lock:
        offline.switch_off()
        import onnxruntime as ort

        if not _ready:
            if offline.late():
                log.warning(
                    "onnxruntime was imported before the engine: its telemetry could not "
                    "be switched off; set ORT_DISABLE_TELEMETRY=1 before starting Python"
                )
            disable = getattr(ort, "disable_telemetry_events", None)
            if disable is not None:
                disable()
            _ready = True
        return ort


def session(
    path: str | os.PathLike[str],
    *,
    intra_threads: int = 1,
    inter_threads: int = 1,
    mem_arena: bool = True,
    log_severity: int = 3,
) -> Any:
    """A CPU ``onnxruntime.InferenceSession`` of the model file at ``path``.

    Raises whatever onnxruntime raises for a bad file; callers turn it into their
    own typed error (they know which model it is).
    """
    ort = runtime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(intra_threads))
    opts.inter_op_num_threads = max(1, int(inter_threads))
    opts.log_severity_level = log_severity
    opts.enable_cpu_mem_arena = mem_arena
    return ort.InferenceSession(
        str(Path(path)), sess_options=opts, providers=["CPUExecutionProvider"]
    )
