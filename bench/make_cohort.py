"""Rebuild the impostor cohort engine/data/cohort_ecapa.npz (issue 11).

The cohort is ECAPA voiceprints of real people who are in nobody's library: AS-Norm
(:mod:`engine.pipeline.decision`) normalises each cluster-voiceprint score against the
scores of the closest cohort members, so a stranger who is merely nearest to an
enrolled voice is not named. Only derived vectors ship (192 floats per voice), never
audio. Sources and licences: engine/data/README.md.

Not part of the tests or benches: it documents, and repeats, how the file was made.

1. Download and unpack (``dpkg -x`` into ``--debs/x_<package>``)::

       apt-get download hedgewars-data asterisk-prompt-es-co asterisk-prompt-fr-armelle alsa-utils

   (``--pypi``) the pocketsphinx sdist, unpacked::

       pip download --no-deps --no-binary :all: pocketsphinx==5.1.1 && tar xzf pocketsphinx-5.1.1.tar.gz

   and (``--fsdd``) the first five takes of each digit of each speaker of the public
   repository github.com/Jakobovski/free-spoken-digit-dataset (commit 26eb9aaf), files
   ``recordings/<digit>_<speaker>_<0-4>.wav``, copied into one folder.

2. Each voice (one folder of one voice, or one pocketsphinx test recording not used by
   tests/data) is trimmed to speech, peak-normalised and joined, at most
   :data:`MAX_SECONDS`; voices with under :data:`MIN_SECONDS` are dropped. The voiceprint
   is the ECAPA embedding of the joined speech (as the benches enroll).
3. Voices closer than :data:`SAME` (cosine) to a voice already kept are the same actor
   and dropped; voices closer than :data:`SAME` to any speaker of the dev set
   (bench/data/devset, tests/data) are dropped, so the cohort holds no dev-set person.

    python bench/make_cohort.py --debs /tmp/cohort_debs --pypi /tmp/cohort_pypi --fsdd /tmp/fsdd
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SR = 16000
MIN_SECONDS = 3.0
MAX_SECONDS = 30.0
SAME = 0.50
"""Cosine above which two voices are taken as one person (as bench/make_devset.py)."""
OUT = ROOT / "engine" / "data" / "cohort_ecapa.npz"

HEDGEWARS = "hedgewars-data (Debian 1.0.2-6) share/games/hedgewars/Data/Sounds/voices/{}/"
PS = "pocketsphinx 5.1.1 sdist test/{}"
FSDD = ("github.com/Jakobovski/free-spoken-digit-dataset @26eb9aaf recordings/*_{}_[0-4].wav "
        "(spoken digits, 8 kHz)")


def voices(debs: Path, pypi: Path, fsdd: Path) -> list[tuple[str, str, str, list[str]]]:
    """``(name, source, licence, files)`` of every candidate voice."""
    out: list[tuple[str, str, str, list[str]]] = []
    hw = debs / "x_hedgewars-data/usr/share/games/hedgewars/Data/Sounds/voices"
    for d in sorted(hw.glob("*/")):
        fs = sorted(glob.glob(str(d / "*.ogg")))
        out.append((f"hw_{d.name}", HEDGEWARS.format(d.name), "GFDL-1.3 (Hedgewars, Andrey Korotaev et al.)", fs))
    for pkg, lang, who, lic in (
        ("asterisk-prompt-es-co", "es", "Avatar Ltda. / July E. Jiménez", "GPL-2 (Avatar Ltda.)"),
        ("asterisk-prompt-fr-armelle", "fr", "Armelle Desjardins", "BSD-style (© 2006 Michel Gutierrez; voice actor Armelle Desjardins)"),
    ):
        fs = sorted(glob.glob(str(debs / f"x_{pkg}/usr/share/asterisk/sounds/{lang}/**/*.*"), recursive=True))
        out.append((f"ast_{pkg}", f"{pkg} (Debian) usr/share/asterisk/sounds/{lang}/ ({who})", lic, fs))
    alsa = sorted(glob.glob(str(debs / "x_alsa-utils/usr/share/sounds/alsa/*.wav")))
    alsa = [f for f in alsa if not f.endswith("Noise.wav")]
    out.append(("alsa_speaker_test", "alsa-utils (Debian 1.2.8-1) usr/share/sounds/alsa/", "GPL-2.0-or-later (alsa-utils)", alsa))
    ps = pypi / "pocketsphinx-5.1.1/test/data"
    for rel in ("goforward.raw", "numbers.raw", "something.raw", "tidigits/dhd.2934z.raw"):
        out.append((f"ps_{Path(rel).stem.split('.')[0]}", PS.format("data/" + rel), "BSD-2-Clause (pocketsphinx)", [str(ps / rel)]))
    for who in ("george", "jackson", "lucas", "nicolas", "theo", "yweweler"):
        fs = sorted(glob.glob(str(fsdd / f"*_{who}_*.wav")))
        out.append((f"fsdd_{who}", FSDD.format(who), "CC-BY-SA-4.0 (free-spoken-digit-dataset contributors)", fs))
    return out


def _read(path: str) -> np.ndarray:
    """float32 mono at 16 kHz (``.raw``: 16 kHz PCM16 little-endian)."""
    if path.endswith(".raw"):
        return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0
    from engine.audio import load_audio

    return load_audio(path).mono()


def speech(files: list[str]) -> np.ndarray:
    from tests._helpers_identify import normalize, trim

    parts, got = [], 0.0
    pause = np.zeros(int(0.2 * SR), np.float32)
    for f in files:
        try:
            y = trim(_read(f))
        except Exception:  # noqa: BLE001 - a file the reader cannot open is skipped
            continue
        if y.size < 0.3 * SR:
            continue
        parts += [normalize(y), pause]
        got += y.size / SR
        if got >= MAX_SECONDS:
            break
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def devset_voiceprints(enc: object) -> np.ndarray:
    """Voiceprints of every dev-set and tests/data speaker (all their speech, 3 s segments
    averaged), to keep them out of the cohort."""
    from devset import load

    from engine.pipeline.embedding import normalize_rows

    vecs = []
    for which in ("full", "mini"):
        ds = load(which)
        segs, spk, _ = ds.segments(3.0)
        e = normalize_rows(enc.embed(segs))  # type: ignore[attr-defined]
        for s in sorted(set(spk)):
            m = np.array([x == s for x in spk])
            vecs.append(normalize_rows(e[m].mean(axis=0, keepdims=True))[0])
    from tests import _helpers_identify as H

    for s in ("A", "B", "C", "D"):
        vecs.append(enc.embed(H.clip(s, "enroll" if s in "AB" else "", 0)[None])[0])  # type: ignore[attr-defined]
    for enr, test in H.calib_speakers().values():
        vecs.append(enc.embed(np.concatenate([enr, test])[None])[0])  # type: ignore[attr-defined]
    return normalize_rows(np.stack(vecs).astype(np.float32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debs", type=Path, required=True)
    ap.add_argument("--pypi", type=Path, required=True)
    ap.add_argument("--fsdd", type=Path, required=True,
                    help="folder with recordings/<digit>_<speaker>_<0-4>.wav of the FSDD repository")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    from engine.encoder import default_encoder
    from engine.pipeline.embedding import normalize_rows

    enc = default_encoder()
    dev = devset_voiceprints(enc)
    kept: list[tuple[str, str, str, float, np.ndarray]] = []
    for name, src, lic, files in voices(args.debs, args.pypi, args.fsdd):
        x = speech(files)
        sec = x.size / SR
        if sec < MIN_SECONDS:
            print(f"{name}: {sec:.1f} s of speech, dropped")
            continue
        v = normalize_rows(enc.embed(x[None]))[0]
        d = float((dev @ v).max())
        same = max((float(k[4] @ v) for k in kept), default=-1.0)
        if d >= SAME:
            print(f"{name}: cosine {d:.2f} to a dev-set speaker, dropped")
            continue
        if same >= SAME:
            print(f"{name}: cosine {same:.2f} to a kept voice (same actor), dropped")
            continue
        print(f"{name}: {sec:.1f} s, kept (max dev cosine {d:.2f}, max cohort cosine {same:.2f})")
        kept.append((name, src, lic, sec, v))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        voiceprints=np.stack([k[4] for k in kept]).astype(np.float32),
        names=np.array([k[0] for k in kept]),
        model_id=np.array(enc.model_id),
    )
    print(f"{len(kept)} voices -> {args.out}")
    print("| voice | seconds | from | licence |\n|---|---|---|---|")
    for name, src, lic, sec, _ in kept:
        print(f"| `{name}` | {sec:.1f} | {src} | {lic} |")


if __name__ == "__main__":
    main()
