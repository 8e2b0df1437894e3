"""Voiceprint Studio's on-device engine.

Audio I/O, voice activity, speaker embeddings, voiceprints, comparison,
diarization + identification, the voiceprint library and jobs. This package
never imports Qt (checked by the import contract in ``pyproject.toml`` and by
``tests/test_import_contract.py``), so the GUI, the ``vpstudio`` command line
and the tests share it.
"""

from engine import offline as _offline

# First thing, before any model library can be imported: see engine/offline.py.
_offline.switch_off()

__version__ = "0.1.0"
