"""`vpstudio identify` writes the annotation and caption formats (a fake identify: no
models), from the suffix of ``-o`` or from ``--format``, with names for speaker ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine import cli, formats
from engine.library import Library
from tests._helpers_library import MODEL, vp


@pytest.fixture
def fake_identify(monkeypatch: pytest.MonkeyPatch, vp_home: Path):
    import engine.identify as identify_mod
    from engine.segments import Turn

    lib = Library()
    ada = lib.enroll("Ada Lovelace", vp(np.random.default_rng(5)), 5.0, "a.wav")
    lib.close()
    monkeypatch.setattr(cli, "_current_model_id", lambda: MODEL)
    sid = str(ada.id)

    def fake(audio, voiceprints, **kwargs):
        return identify_mod.IdentificationResult(
            turns=(Turn(0.5, 2.5, sid, 88.0, "SPEAKER_00"),
                   Turn(2.0, 4.0, "UNKNOWN_00", 10.0, "SPEAKER_01")),
            confidence=None, speaker_curves=None, speaker_ids=(sid,), clusters=(),
            duration=5.0, model_id=MODEL, num_speakers=2,
        )

    monkeypatch.setattr(identify_mod, "identify", fake)


@pytest.mark.parametrize("suffix", [".eaf", ".TextGrid", ".vtt", ".srt"])
def test_identify_writes_each_format_from_the_suffix(capsys, tmp_path: Path, fake_identify,
                                                     suffix: str) -> None:
    wav = tmp_path / "meeting.wav"
    wav.write_bytes(b"not read by the fake")
    out = tmp_path / f"meeting{suffix}"
    assert cli.main(["identify", str(wav), "-o", str(out)]) == 0
    assert f"to {out}" in capsys.readouterr().out
    back = formats.read(out)
    assert [(t.start, t.end, t.speaker) for t in back] == [
        (0.5, 2.5, "Ada Lovelace"), (2.0, 4.0, "UNKNOWN_00")]
    if suffix == ".TextGrid":  # the result's duration spans the grid
        assert "xmax = 5.000000" in out.read_text(encoding="utf-8")


def test_identify_format_to_stdout(capsys, tmp_path: Path, fake_identify) -> None:
    wav = tmp_path / "meeting.wav"
    wav.write_bytes(b"not read by the fake")
    assert cli.main(["identify", str(wav), "--format", "vtt"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("WEBVTT") and "[Ada Lovelace]" in text
    assert cli.main(["identify", str(wav), "--format", "eaf"]) == 0
    assert 'TIER_ID="Ada Lovelace"' in capsys.readouterr().out
