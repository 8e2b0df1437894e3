"""Voiceprint Studio's on-device engine.

Audio I/O, voice activity, speaker embeddings, voiceprints, comparison,
diarization + identification, the voiceprint library and jobs. This package
never imports Qt (checked by the import contract in ``pyproject.toml`` and by
``tests/test_import_contract.py``), so the GUI, the ``vpstudio`` command line
and the tests share it.
"""

__version__ = "0.1.0"
