"""The ``vpstudio`` command line, driven through ``main(argv)``.

Library commands run on voiceprints made from random unit vectors (no model);
enroll / voiceprint / identify load the real models and are marked ``slow``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import cli
from engine.library import Library
from engine.voiceprint import Voiceprint
from tests._helpers_library import MODEL, unit, vp, vp_of

DATA = Path(__file__).parent / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(5)


@pytest.fixture
def lib(vp_home: Path):
    library = Library()
    yield library
    library.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, "--json", *argv)
    return code, json.loads(out)


# -- help, usage ---------------------------------------------------------------------------------
def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("enroll", "speakers", "rename", "delete", "merge", "export", "import",
                    "identify", "compare", "voiceprint"):
        assert command in out
    assert "example" in out and "exit codes" in out


@pytest.mark.parametrize("command", ["enroll", "identify", "compare", "import", "voiceprint"])
def test_command_help_has_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert "example:" in out and f"vpstudio {command}" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 2 and "COMMAND" in out


def test_usage_error_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "speakers", "--bogus")
    assert code == 2
    err = json.loads(out)["error"]
    assert err["type"] == "request.validation-error" and err["detail"] == "cli.usage"
    assert "--bogus" in err["message"]
    code, out, err_text = run(capsys, "identify")  # missing FILE, human mode
    assert code == 2 and out == "" and "FILE" in err_text


def test_bad_option_values_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "identify", "x.wav", "--speakers", "0")[0] == 2
    assert run(capsys, "identify", "x.wav", "--threshold", "101")[0] == 2
    assert run(capsys, "import", "x.json", "--on-conflict", "overwrite")[0] == 2


def test_help_starts_without_model_modules() -> None:
    code = (
        "import sys; from engine import cli; rc = cli.main(['--help']); "
        "heavy = [m for m in ('torch', 'onnxruntime', 'speechbrain', 'engine.identify') "
        "if m in sys.modules]; print(heavy); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


# -- library commands ----------------------------------------------------------------------------
def test_speakers_empty_and_listed(capsys, lib: Library, rng) -> None:
    code, out, _ = run(capsys, "speakers")
    assert code == 0 and "empty" in out
    lib.enroll("Ada Lovelace", vp(rng), 12.0, "a.wav")
    lib.enroll("Bob", vp(rng), 3.5, "b.wav")
    code, out, _ = run(capsys, "speakers")
    assert code == 0 and "Ada Lovelace" in out and "Bob" in out and "12.0" in out
    code, data = run_json(capsys, "speakers", "--search", "ada")
    assert code == 0 and [s["name"] for s in data["speakers"]] == ["Ada Lovelace"]
    assert data["speakers"][0]["num_enrollments"] == 1
    assert data["speakers"][0]["model_id"] == MODEL


def test_global_options_after_the_command(capsys, lib: Library, rng) -> None:
    lib.enroll("Ada", vp(rng), 1.0, "a.wav")
    code, out, _ = run(capsys, "speakers", "--json")
    assert code == 0 and json.loads(out)["speakers"][0]["name"] == "Ada"


def test_home_flag(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rng) -> None:
    home = tmp_path / "elsewhere"
    with Library(home / "library.sqlite3") as other:
        other.enroll("Faraway", vp(rng), 1.0, "f.wav")
    code, out = run_json(capsys, "--home", str(home), "speakers")
    assert code == 0 and [s["name"] for s in out["speakers"]] == ["Faraway"]
    assert os.environ["VPSTUDIO_HOME"] == str(home.resolve())


def test_rename(capsys, lib: Library, rng) -> None:
    info = lib.enroll("Ada", vp(rng), 1.0, "a.wav")
    lib.enroll("Bob", vp(rng), 1.0, "b.wav")
    code, data = run_json(capsys, "rename", "ada", "Ada Lovelace")
    assert code == 0 and data["speaker"]["name"] == "Ada Lovelace"
    assert lib.get(info.id).name == "Ada Lovelace"
    code, data = run_json(capsys, "rename", "Ada Lovelace", "BOB")
    assert code == 4 and data["error"]["type"] == "resource.conflict"
    code, data = run_json(capsys, "rename", "Nobody", "X")
    assert code == 4 and data["error"]["type"] == "resource.not-found"
    code, _, err = run(capsys, "rename", "Nobody", "X")
    assert code == 4 and "Nobody" in err


def test_delete_needs_yes(capsys, lib: Library, rng, monkeypatch: pytest.MonkeyPatch) -> None:
    lib.enroll("Ada", vp(rng), 1.0, "a.wav")
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # not a terminal: cannot ask
    code, data = run_json(capsys, "delete", "Ada")
    assert code == 2 and data["error"]["detail"] == "cli.confirmation-required"
    assert lib.count() == 1
    code, data = run_json(capsys, "delete", "Ada", "--yes")
    assert code == 0 and data["deleted"]["name"] == "Ada"
    assert lib.count() == 0


def test_merge(capsys, lib: Library, rng) -> None:
    a = lib.enroll("Ada", vp(rng), 1.0, "a.wav")
    lib.enroll("A. Lovelace", vp(rng), 2.0, "b.wav")
    code, out, _ = run(capsys, "merge", "Ada", "A. Lovelace")
    assert code == 0 and "Merged" in out
    info = lib.get(a.id)
    assert (info.num_enrollments, info.seconds) == (2, 3.0) and lib.count() == 1
    lib.enroll("Other model", vp(rng, model="m2"), 1.0, "x.wav")
    code, data = run_json(capsys, "merge", "Ada", "Other model")
    assert code == 2 and data["error"]["type"] == "voiceprint.model-mismatch"


def test_export_import(capsys, lib: Library, rng, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_current_model_id", lambda: MODEL)
    lib.enroll("Ada", vp(rng), 1.0, "a.wav")
    lib.enroll("Bob", vp(rng), 1.0, "b.wav")
    out_file = tmp_path / "exp.json"
    code, data = run_json(capsys, "export", str(out_file), "Bob")
    assert code == 0 and data["speakers"] == 1
    if os.name == "posix":
        assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    code, data = run_json(capsys, "export", str(tmp_path / "all.json"))
    assert data["speakers"] == 2
    code, data = run_json(capsys, "import", str(out_file))  # default: skip
    assert code == 0 and data["skipped"] == ["Bob"] and data["enrollments"] == 0
    code, out, _ = run(capsys, "import", str(out_file), "--on-conflict", "rename")
    assert code == 0 and "Bob -> Bob (2)" in out
    code, data = run_json(capsys, "import", str(out_file), "--on-conflict", "merge")
    assert data["merged"] == ["Bob"] and lib.get_by_name("Bob").num_enrollments == 2
    code, data = run_json(capsys, "export", str(out_file), "Nobody")
    assert code == 4


def test_import_invalid_file_is_validation_error(capsys, lib: Library, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    code, data = run_json(capsys, "import", str(bad))
    assert code == 2 and data["error"]["type"] == "request.validation-error"
    code, data = run_json(capsys, "import", str(tmp_path / "missing.json"))
    assert code == 4


def test_import_model_mismatch(capsys, lib: Library, rng, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    src = Library(tmp_path / "src.sqlite3")
    src.enroll("Ada", vp(rng, model="old-model"), 1.0, "a.wav")
    src.export_json(tmp_path / "old.json")
    src.close()
    monkeypatch.setattr(cli, "_current_model_id", lambda: MODEL)
    code, data = run_json(capsys, "import", str(tmp_path / "old.json"))
    assert code == 2 and data["error"]["type"] == "voiceprint.model-mismatch"
    assert "re-enroll" in data["error"]["message"]
    assert lib.count() == 0


# -- compare -----------------------------------------------------------------------------------
def test_compare_files_and_names(capsys, lib: Library, rng, tmp_path: Path) -> None:
    base = unit(rng)
    same = vp_of(base + 0.2 * unit(rng))
    other = vp(rng)
    lib.enroll("Ada", vp_of(base), 1.0, "a.wav")
    lib.enroll("Bob", other, 1.0, "b.wav")
    probe = tmp_path / "probe.vp"
    probe.write_bytes(same.to_bytes())
    code, data = run_json(capsys, "compare", str(probe), "Ada,Bob")
    assert code == 0
    assert data["a"] == ["probe"] and data["b"] == ["Ada", "Bob"]
    assert np.array(data["score"]).shape == (1, 2)
    assert data["score"][0][0] > data["score"][0][1]
    assert data["cosine"][0][0] == pytest.approx(
        float(np.dot(same.vector, lib.voiceprint(lib.get_by_name("Ada").id).vector)), abs=1e-5
    )
    # an export as operand, human output
    lib.export_json(tmp_path / "lib.json")
    code, out, _ = run(capsys, "compare", str(tmp_path / "lib.json"), str(probe))
    assert code == 0 and "Ada" in out and "Bob" in out and "probe" in out
    code, data = run_json(capsys, "compare", str(probe), "Ada,Nobody")
    assert code == 4 and data["error"]["context"]["name"] == "Nobody"
    code, data = run_json(capsys, "compare", str(tmp_path / "missing.vp"), "Ada")
    assert code == 4 and "no voiceprint file" in data["error"]["message"]
    # a comma list mixing a file and names
    code, data = run_json(capsys, "compare", f"{probe},Bob", "Ada")
    assert code == 0 and data["a"] == ["probe", "Bob"] and np.array(data["score"]).shape == (2, 1)


def test_compare_corrupt_voiceprint_file(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.vp"
    bad.write_bytes(b"VPRT garbage")
    code, data = run_json(capsys, "compare", str(bad), str(bad))
    assert code == 2 and data["error"]["type"] == "voiceprint.invalid"


def test_compare_model_mismatch(capsys, rng, tmp_path: Path) -> None:
    (tmp_path / "a.vp").write_bytes(vp(rng).to_bytes())
    (tmp_path / "b.vp").write_bytes(vp(rng, model="m2").to_bytes())
    code, data = run_json(capsys, "compare", str(tmp_path / "a.vp"), str(tmp_path / "b.vp"))
    assert code == 2 and data["error"]["type"] == "voiceprint.model-mismatch"


# -- exit codes ----------------------------------------------------------------------------------
def test_exit_code_mapping() -> None:
    from engine import errors

    assert cli.exit_code(errors.MediaUnreadable("x")) == 3
    assert cli.exit_code(errors.NoSpeech("x")) == 3
    assert cli.exit_code(errors.SizeLimitExceeded("x", detail="media.too-large")) == 3
    assert cli.exit_code(errors.SizeLimitExceeded("x")) == 2
    assert cli.exit_code(errors.ValidationError("x")) == 2
    assert cli.exit_code(errors.NotFound("x")) == 4
    assert cli.exit_code(errors.Conflict("x")) == 4
    assert cli.exit_code(errors.ModelUnavailable("x")) == 1
    assert cli.exit_code(errors.Cancelled()) == 130
    assert cli.exit_code(KeyboardInterrupt()) == 130
    assert cli.exit_code(RuntimeError("x")) == 1


def test_ctrl_c_exits_130(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(args, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_speakers", interrupted)
    code, data = run_json(capsys, "speakers")
    assert code == 130 and data["error"]["type"] == "job.canceled"


def test_unexpected_error_is_typed_json(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args, out):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "cmd_speakers", broken)
    code, data = run_json(capsys, "speakers")
    assert code == 1 and data["error"]["type"] == "internal.error"
    assert "boom" in data["error"]["message"]


def test_progress_only_when_asked(capsys) -> None:
    out = cli.Output(json_mode=False, progress=True)
    out.progress(0.5, "Working")
    out.progress(1.0, "Working")
    out.end_progress()
    err = capsys.readouterr().err
    assert "\r" in err and "50.0%" in err and "100.0%" in err
    quiet = cli.Output(json_mode=False, progress=False)  # stderr is not a TTY under pytest
    quiet.progress(0.5, "Working")
    assert capsys.readouterr().err == ""


def test_media_error_exit_3(capsys, tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....not really audio" * 10)
    code, data = run_json(capsys, "voiceprint", str(junk), "-o", str(tmp_path / "x.vp"))
    assert code == 3 and data["error"]["type"] == "media.unreadable"
    code, data = run_json(capsys, "enroll", "Ada", str(tmp_path / "missing.wav"))
    assert code == 3


# -- model-backed commands (real models) --------------------------------------------------------




@pytest.mark.slow
def test_enroll_voiceprint_compare_with_models(capsys, lib: Library, tmp_path: Path) -> None:
    wav_a = DATA / "arctic_slt_a0009.wav"
    wav_b = DATA / "arctic_pysptk_a0007.wav"
    # 3-4 s recordings are short for enrollment: refused without --force
    code, data = run_json(capsys, "enroll", "Slt", str(wav_a))
    if code != 0:
        assert code == 3 and data["error"]["type"] == "media.no-speech"
        assert lib.count() == 0
        code, data = run_json(capsys, "enroll", "Slt", str(wav_a), "--force")
    assert code == 0, data
    info = data["speaker"]
    assert info["name"] == "Slt" and info["num_enrollments"] == 1 and info["seconds"] > 0
    assert data["enrollments"][0]["quality"]
    code, data = run_json(capsys, "voiceprint", str(wav_a), "-o", str(tmp_path / "a.vp"))
    assert code == 0
    saved = Voiceprint.from_bytes((tmp_path / "a.vp").read_bytes())
    assert saved.model_id == lib.get_by_name("Slt").model_id
    run_json(capsys, "voiceprint", str(wav_b), "-o", str(tmp_path / "b.vp"))
    code, data = run_json(capsys, "compare", f"{tmp_path / 'a.vp'}", "Slt")
    assert code == 0 and data["cosine"][0][0] > 0.99  # the very recording it was enrolled from
    same = data["score"][0][0]
    code, data = run_json(capsys, "compare", str(tmp_path / "b.vp"), "Slt")
    assert code == 0 and data["score"][0][0] < same  # another recording scores lower


@pytest.mark.slow
def test_identify_outputs_names(capsys, lib: Library, tmp_path: Path) -> None:
    import soundfile as sf

    from engine.encoder import default_encoder

    wav = DATA / "pyannote_sample.wav"
    # Enroll the speaker of 7.6-10.0 s (one speaker there in the reference RTTM) straight
    # from the encoder, so this test does not depend on the enrollment pipeline.
    samples, sr = sf.read(wav, dtype="float32")
    assert sr == 16000
    encoder = default_encoder()
    vector = encoder.embed(samples[None, int(7.6 * sr) : int(10.0 * sr)])[0]
    info = lib.enroll("Sample Speaker", Voiceprint(vector, encoder.model_id), 2.4, "sample.wav")
    out_json = tmp_path / "out.json"  # format from the suffix
    code, data = run_json(capsys, "identify", str(wav), "--speakers", "2", "-o", str(out_json))
    assert code == 0, data
    assert data["output"] == str(out_json)
    assert "Sample Speaker" in data["speakers"]
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    labels = {t["speaker"] for t in doc["identification"]}
    assert "Sample Speaker" in labels and str(info.id) not in labels
    assert any(label.startswith("UNKNOWN_") for label in labels)  # the other speaker
    matched = [v["match"] for v in doc["voiceprints"] if v["match"]]
    assert matched == ["Sample Speaker"]


def test_identify_relabels_ids_with_names(capsys, lib: Library, rng, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Without models: a fake identify() returning speaker ids; outputs must carry names."""
    import engine.identify as identify_mod
    from engine.segments import Turn

    monkeypatch.setattr(cli, "_current_model_id", lambda: MODEL)
    ada = lib.enroll("Ada Lovelace", vp(rng), 5.0, "a.wav")
    seen: dict = {}

    def fake_identify(audio, voiceprints, **kwargs):
        seen.update(voiceprints=dict(voiceprints), kwargs=kwargs)
        sid = str(ada.id)
        cluster = identify_mod.ClusterInfo(
            label="SPEAKER_00", speaker=sid, score=88.0, duration=2.0,
            centroid=np.zeros(4, np.float32), matches=((sid, 88.0),),
        )
        return identify_mod.IdentificationResult(
            turns=(Turn(0.5, 2.5, sid, 88.0, "SPEAKER_00"),
                   Turn(3.0, 4.0, "UNKNOWN_00", 10.0, "SPEAKER_01")),
            confidence=None, speaker_curves=None, speaker_ids=(sid,),
            clusters=(cluster,), duration=5.0, model_id=MODEL, num_speakers=2,
        )

    monkeypatch.setattr(identify_mod, "identify", fake_identify)
    wav = tmp_path / "meeting.wav"
    wav.write_bytes(b"not read by the fake")
    code, out, _ = run(capsys, "identify", str(wav), "--format", "rttm", "--speakers", "2",
                       "--threshold", "55")
    assert code == 0
    assert set(seen["voiceprints"]) == {str(ada.id)}
    assert seen["kwargs"]["num_speakers"] == 2 and seen["kwargs"]["threshold"] == 55.0
    lines = out.strip().splitlines()
    assert lines[0].split()[1] == "meeting" and lines[0].split()[7] == "Ada_Lovelace"
    assert lines[1].split()[7] == "UNKNOWN_00"
    code, data = run_json(capsys, "identify", str(wav))
    assert code == 0
    assert [t["speaker"] for t in data["identification"]] == ["Ada Lovelace", "UNKNOWN_00"]
    assert data["voiceprints"][0]["confidence"] == {"Ada Lovelace": 88.0}
    code, out, _ = run(capsys, "identify", str(wav), "-o", str(tmp_path / "x.csv"))
    assert code == 0 and "Ada Lovelace" in (tmp_path / "x.csv").read_text()
    code, data = run_json(capsys, "identify", str(tmp_path / "missing.wav"))
    assert code == 3 and data["error"]["type"] == "media.unreadable"


# -- split-channel identification -----------------------------------------------------------------
CALL = DATA / "call_stereo.ogg"  # one real voice per channel (tests/_helpers_call.py)


def test_identify_split_channels_without_models(capsys, lib: Library, rng, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake identify() per channel: each channel identified alone, turns say their channel."""
    import engine.identify as identify_mod
    from engine.audio import FileChannel
    from engine.segments import Turn

    monkeypatch.setattr(cli, "_current_model_id", lambda: MODEL)
    ada = lib.enroll("Ada Lovelace", vp(rng), 5.0, "a.wav")
    sid = str(ada.id)
    seen: list = []

    def fake_identify(audio, voiceprints, **kwargs):
        seen.append((audio, kwargs))
        ch = getattr(audio, "channel", 0)
        turns = ((Turn(0.5, 2.5, sid, 88.0, "SPEAKER_00"),) if ch == 0
                 else (Turn(1.0, 3.0, "UNKNOWN_00", 10.0, "SPEAKER_00"),))
        cluster = identify_mod.ClusterInfo("SPEAKER_00", turns[0].speaker, turns[0].score, 2.0,
                                           np.zeros(4, np.float32), ((sid, turns[0].score),))
        return identify_mod.IdentificationResult(
            turns=turns, confidence=None, speaker_curves=None, speaker_ids=(sid,),
            clusters=(cluster,), duration=5.0, model_id=MODEL, num_speakers=1,
        )

    monkeypatch.setattr(identify_mod, "identify", fake_identify)
    code, data = run_json(capsys, "identify", str(CALL), "--channel-mode", "split",
                          "--speakers", "1")
    assert code == 0, data
    assert [a for a, _ in seen] == [FileChannel(str(CALL), 0), FileChannel(str(CALL), 1)]
    assert all(kw["num_speakers"] == 1 for _, kw in seen)
    got = [(t["speaker"], t["channel"], t["diarizationSpeaker"]) for t in data["identification"]]
    assert got == [("Ada Lovelace", 0, "SPEAKER_00"), ("UNKNOWN_00", 1, "SPEAKER_01")]
    assert [v["channel"] for v in data["voiceprints"]] == [0, 1]
    seen.clear()
    code, out, _ = run(capsys, "identify", str(CALL), "--channel-mode", "split", "--channels",
                       "1", "--format", "rttm")
    assert code == 0 and [a.channel for a, _ in seen] == [1]
    assert out.split()[2] == "2"  # RTTM channels count from 1
    out_csv = tmp_path / "call.csv"
    code, data = run_json(capsys, "identify", str(CALL), "--channel-mode", "split",
                          "-o", str(out_csv))
    assert code == 0 and data["channels"] == {"0": ["Ada Lovelace"], "1": ["UNKNOWN_00"]}
    assert out_csv.read_text().splitlines()[0].endswith(",channel")
    # mix (the default) is one identification of the whole file, as before
    seen.clear()
    code, data = run_json(capsys, "identify", str(CALL))
    assert code == 0 and len(seen) == 1 and not isinstance(seen[0][0], FileChannel)
    assert all("channel" not in t for t in data["identification"])


@pytest.mark.parametrize(
    ("argv", "detail"),
    [(["--channels", "0"], None),  # --channels belongs to split
     (["--channel-mode", "split", "--channels", "2"], "channels.out-of-range"),
     (["--channel-mode", "split", "--channels", "0,0"], "channels.duplicate"),
     (["--channel-mode", "split", "--channels", "left"], None),
     (["--channel-mode", "split", "--channels", ","], None)],
)
def test_identify_bad_channels_are_usage_errors(capsys, argv, detail,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.identify as identify_mod

    def no_identify(*a, **k):
        raise AssertionError("identify must not run")

    monkeypatch.setattr(identify_mod, "identify", no_identify)
    code, data = run_json(capsys, "identify", str(CALL), *argv)
    assert code == 2, data
    assert data["error"]["type"] == "request.validation-error"
    if detail is not None:
        assert data["error"].get("detail") == detail


@pytest.mark.slow
def test_identify_split_call_with_models(capsys, lib: Library, tmp_path: Path) -> None:
    from engine.encoder import default_encoder
    from tests import _helpers_call as C

    enc = default_encoder()
    for ch, name in C.NAMES.items():
        clip = C.enrollment_clip(ch)
        lib.enroll(name, Voiceprint(enc.embed(clip[None])[0], enc.model_id), clip.size / 16000,
                   "call source")
    out_rttm = tmp_path / "call.rttm"
    code, data = run_json(capsys, "identify", str(CALL), "--channel-mode", "split",
                          "--channels", "0,1", "-o", str(out_rttm))
    assert code == 0, data
    assert data["channels"] == {"0": ["Austen Reader"], "1": ["Chan3 Caller"]}
    lines = [line.split() for line in out_rttm.read_text().splitlines()]
    assert {(f[2], f[7]) for f in lines} == {("1", "Austen_Reader"), ("2", "Chan3_Caller")}


@pytest.mark.slow
def test_enroll_refuses_another_voice_for_an_existing_speaker(capsys, lib: Library) -> None:
    """Issue 12: calib_forever.ogg and calib_chan3.ogg are two different people; adding
    the second to "Dave" is refused (typed error, nothing written) unless --force."""
    code, data = run_json(capsys, "enroll", "Dave", str(DATA / "calib_forever.ogg"))
    assert code == 0, data
    code, data = run_json(capsys, "enroll", "Dave", str(DATA / "calib_chan3.ogg"))
    assert code == 4, data
    err = data["error"]
    assert err["type"] == "resource.conflict" and err["detail"] == "voiceprint.speaker-mismatch"
    assert err["context"]["files"][0]["score"] < 50 and "score" in err["message"]
    assert lib.get_by_name("Dave").num_enrollments == 1
    code, out, _ = run(capsys, "enroll", "Dave", str(DATA / "calib_chan3.ogg"), "--force")
    assert code == 0 and "does not sound like 'Dave'" in out + _
    assert lib.get_by_name("Dave").num_enrollments == 2


@pytest.mark.slow
def test_enroll_quality_line_reads_as_words(capsys, lib: Library) -> None:
    """The text output says the verdict in words; --json keeps the code."""
    code, out, err = run(capsys, "enroll", "Ninety", str(DATA / "calib_chan3.ogg"))
    assert code == 0
    text = out + err
    assert "Good" in text and "verdict=" not in text
    lib.delete_speaker(lib.get_by_name("Ninety").id)
    code, data = run_json(capsys, "enroll", "Ninety", str(DATA / "calib_chan3.ogg"))
    assert data["enrollments"][0]["quality"]["verdict"] == "ok"
