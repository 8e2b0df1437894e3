"""``vpstudio batch`` without a cluster: inputs, manifest, keys, summary, the worker task.

The real clusters (LocalCluster, scheduler + worker processes) are in
``tests/test_batch_cluster.py``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio import check_readable
from engine.batch.inputs import collect_inputs
from engine.batch.manifest import BatchSettings, Manifest, library_digest, run_key
from engine.batch.work import FileTask, LibrarySnapshot, identify_file
from engine.cli import main
from engine.errors import NotFound, ValidationError, VPError
from engine.voiceprint import Voiceprint


def _wav(path: Path, seconds: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(16000 * seconds), np.float32), 16000)
    return path


def test_collect_inputs_folders_lists_and_unique_names(tmp_path: Path) -> None:
    a = _wav(tmp_path / "arch" / "2024" / "m1.wav")
    b = _wav(tmp_path / "arch" / "2025" / "m1.flac")
    _wav(tmp_path / "arch" / ".hidden" / "x.wav")
    (tmp_path / "arch" / "notes.md").write_text("not audio")
    c = _wav(tmp_path / "loose" / "summary.wav")  # would clash with summary.csv
    d = _wav(tmp_path / "other" / "m1.wav")
    listing = tmp_path / "files.txt"
    listing.write_text(f"# calls\n\nloose/summary.wav\n{d}\nmissing.wav\n{a}\n")
    items = collect_inputs([tmp_path / "arch", listing], "csv")
    by_path = {i.path: i.output for i in items}
    assert list(by_path) == [str(a), str(b), str(c), str(d), str(tmp_path / "missing.wav")]
    assert by_path[str(a)] == "2024/m1.csv" and by_path[str(b)] == "2025/m1.csv"
    assert by_path[str(c)].startswith("summary-") and by_path[str(c)].endswith(".csv")
    assert by_path[str(d)] == "m1.csv"  # not the folder's 2024/m1.csv: no clash
    assert by_path[str(tmp_path / "missing.wav")] == "missing.csv"  # kept: its row says why
    assert len({o.lower() for o in by_path.values()}) == len(items)


def test_collect_inputs_clash_and_errors(tmp_path: Path) -> None:
    a = _wav(tmp_path / "x" / "talk.wav")
    b = _wav(tmp_path / "y" / "talk.wav")
    outs = [i.output for i in collect_inputs([a, b, a], "rttm")]
    assert outs[0] == "talk.rttm" and outs[1].startswith("talk-") and len(outs) == 2
    with pytest.raises(NotFound):
        collect_inputs([tmp_path / "nope.wav"], "json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError) as err:
        collect_inputs([tmp_path / "empty"], "json")
    assert err.value.detail == "batch.no-inputs"


def _vp(seed: int) -> Voiceprint:
    v = np.random.default_rng(seed).normal(size=192).astype(np.float32)
    return Voiceprint(v / np.linalg.norm(v), "model-x")


def test_run_key_changes_with_settings_library_and_names() -> None:
    vps = {"1": _vp(1), "2": _vp(2)}
    lib = library_digest(vps, {"1": "Ada", "2": "Alan"})
    base = run_key(BatchSettings(), lib, "model-x")
    assert base == run_key(BatchSettings(), library_digest(dict(reversed(vps.items())),
                                                           {"2": "Alan", "1": "Ada"}), "model-x")
    others = [
        run_key(BatchSettings(fmt="rttm"), lib, "model-x"),
        run_key(BatchSettings(threshold=60.0), lib, "model-x"),
        run_key(BatchSettings(num_speakers=2), lib, "model-x"),
        run_key(BatchSettings(channel_mode="split", channels=(0,)), lib, "model-x"),
        run_key(BatchSettings(), library_digest(vps, {"1": "Ada L.", "2": "Alan"}), "model-x"),
        run_key(BatchSettings(), library_digest({"1": _vp(1)}, {"1": "Ada"}), "model-x"),
        run_key(BatchSettings(), lib, "model-y"),
    ]
    assert len({base, *others}) == len(others) + 1


def test_manifest_skips_only_up_to_date_outputs(tmp_path: Path) -> None:
    src = _wav(tmp_path / "a.wav")
    out = tmp_path / "out"
    out.mkdir()
    m = Manifest(out)
    assert m.finished(str(src), out / "a.json", "k1") is None
    (out / "a.json").write_text("{}")
    m.record(str(src), "a.json", "k1", duration=0.5, speakers=["Ada"])
    with open(out / "manifest.jsonl", "a") as f:
        f.write('{"input": "/cut/short')  # a crash in the middle of a line
    again = Manifest(out)
    entry = again.finished(str(src), out / "a.json", "k1")
    assert entry is not None and entry["speakers"] == ["Ada"] and entry["duration"] == 0.5
    assert again.finished(str(src), out / "a.json", "k2") is None  # other settings
    (out / "a.json").unlink()
    assert again.finished(str(src), out / "a.json", "k1") is None  # output gone
    (out / "a.json").write_text("{}")
    _wav(src, seconds=0.75)  # the input changed
    assert again.finished(str(src), out / "a.json", "k1") is None
    assert (out / "manifest.jsonl").stat().st_mode & 0o777 == 0o600


def test_identify_file_turns_errors_into_typed_rows(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage" * 50)
    empty = LibrarySnapshot(voiceprints={}, names={})
    out = identify_file(FileTask(str(bad), BatchSettings()), empty)
    assert out.status == "failed" and out.error_type == "media.unreadable"
    assert out.error_message and out.text == "" and out.duration is None
    gone = identify_file(FileTask(str(tmp_path / "gone.wav"), BatchSettings()), empty)
    with pytest.raises(VPError) as err:  # what vpstudio identify says of it
        check_readable(tmp_path / "gone.wav")
    assert gone.status == "failed" and gone.error_type == err.value.type
    assert gone.error_message == err.value.message


def test_summary_csv_rows() -> None:
    from engine.batch.runner import BatchRow, summary_csv

    rows = [
        BatchRow("/a.wav", "ok", duration_s=61.25, speakers=("Ada", "UNKNOWN_00"),
                 compute_s=1.5, output="a.json"),
        BatchRow("/b.wav", "failed", error_type="media.unreadable", error_message="bad, file"),
        BatchRow("/c.wav", "skipped", duration_s=3.0, speakers=(), output="c.json"),
    ]
    got = list(csv.DictReader(io.StringIO(summary_csv(rows))))
    assert [(r["path"], r["status"], r["num_speakers"]) for r in got] == [
        ("/a.wav", "ok", "2"), ("/b.wav", "failed", ""), ("/c.wav", "skipped", "0")]
    assert got[0]["speakers"] == "Ada;UNKNOWN_00" and got[0]["duration_s"] == "61.250"
    assert got[1]["error_message"] == "bad, file" and got[1]["error_type"] == "media.unreadable"
    assert rows[1].to_dict()["error"] == {"type": "media.unreadable", "message": "bad, file"}


@pytest.mark.parametrize("argv, location", [
    (["--channels", "0"], "--channels"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers"),
])
def test_batch_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                            argv: list[str], location: str) -> None:
    wav = _wav(tmp_path / "a.wav")
    code = main(["--json", "batch", str(wav), "--out", str(tmp_path / "out"), *argv])
    err = json.loads(capsys.readouterr().out)["error"]
    assert code == 2 and err["type"] == "request.validation-error"
    assert err["location"] == location
    assert not (tmp_path / "out").exists()


def test_batch_missing_input_is_an_error_before_any_work(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["--json", "batch", str(tmp_path / "typo"), "--out", str(tmp_path / "out")])
    assert code == 4
    assert json.loads(capsys.readouterr().out)["error"]["type"] == "resource.not-found"
    assert not (tmp_path / "out").exists()


def test_help_does_not_import_dask() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom engine.cli import build_parser\nbuild_parser()\n"
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, cwd=str(Path(__file__).resolve().parents[1]))
    assert r.returncode == 0, r.stderr
