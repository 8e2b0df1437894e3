"""Rebuild the identification dev set (bench/data/devset, tests/data/devset_mini) from
the Debian data packages it is cut from. Provenance: bench/data/devset/README.md.

Not part of the tests or benches: it documents, and repeats, how the files were made.

1. ``apt-get download ktuberling-data klettres-data asterisk-core-sounds-{en,es,fr,it,ru}-wav
   asterisk-prompt-it-menardi-wav`` and ``dpkg -x`` each into ``--debs`` (one folder each,
   named ``x_<package>``).
2. Every recording is trimmed to its speech (energy gate, tests/_helpers_identify.trim);
   consecutive recordings of one folder are grouped into ~2.5 s chunks and embedded with
   the ECAPA voiceprint model (engine/encoder.py).
3. Within one package folder (one language of a game, one prompt voice), chunks are
   clustered (average-linkage on cosine, threshold :data:`WITHIN`): several people
   recorded some of these folders (children and adults, different years). Clusters with
   less than :data:`MIN_SECONDS` of speech are dropped.
4. Clusters of different folders whose mean voiceprints are closer than :data:`SAME`
   are the same person recorded in two sessions (another game, another year, another
   microphone); they become one speaker with two sessions. Any remaining pair of
   speakers closer than :data:`DISTINCT` is dropped (not clearly distinct).
5. Each speaker-session is written as Ogg Vorbis 16 kHz: its utterances (peak 0.5)
   joined by 0.25 s of silence, at most :data:`MAX_SECONDS` of speech, with the
   utterance boundaries in manifest.json.

    python bench/make_devset.py --debs /tmp/dl --cache /tmp/devset_chunks.npz
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SR = 16000
WITHIN = 0.35
"""Average-linkage cosine at which chunks of one folder are joined into one voice."""
SAME = 0.55
"""Mean-voiceprint cosine above which two voices of different folders are one person."""
DISTINCT = 0.50
"""After merging, speakers must be below this cosine to every other speaker."""
SAME_PERSON = {frozenset(("kl_uk_alpha", "kl_uk_syllab"))}
"""Folders that are one person though their mean voiceprints agree under :data:`SAME`:
KLettres' Ukrainian letters and syllables (12 s voiceprints 0.64, inside the set's
same-person range; see bench/data/devset/README.md)."""
MIN_SECONDS = 8.0
MAX_SECONDS = 45.0
ENROLL_SECONDS = 12.0
"""Speech in an enrollment clip (the first utterances of the enrollment session)."""


AST_LICENCES = {
    "en_US_f_Allison": "CC-BY-SA-3.0 (Allison Smith)",
    "es_MX_f_Allison": "CC-BY-SA-3.0 (Allison Smith)",
    "fr_CA_f_June": "CC-BY-SA-3.0 (June Wallack)",
    "it_IT_m_Carlo": "CC-BY-3.0 (Carlo Flora)",
    "ru_RU_f_IvrvoiceRU": "CC-BY-3.0 (Maxim Topal)",
    "it_IT_f_Menardi": "CC-BY-SA-3.0 (Marco Menardi, Paola Dal Zot)",
}


def package_sets(debs: Path) -> dict[str, tuple[str, str, list[str]]]:
    """name -> (source description, licence, recordings)."""
    out: dict[str, tuple[str, str, list[str]]] = {}
    kt = debs / "x_ktuberling-data/usr/share/ktuberling/sounds"
    for d in sorted(kt.glob("*/")):
        if "@" in d.name:  # sr@latin etc. hold the same recordings as sr
            continue
        fs = sorted(glob.glob(str(d / "*.wav")) + glob.glob(str(d / "*.ogg")))
        out[f"kt_{d.name}"] = (f"ktuberling-data (Debian 4:22.12.3-1) sounds/{d.name}/", "GPL-2.0-or-later", fs)
    kl = debs / "x_klettres-data/usr/share/klettres"
    for d in sorted(kl.glob("*/")):
        for part in ("alpha", "syllab"):
            fs = sorted(glob.glob(str(d / part / "*.ogg")) + glob.glob(str(d / part / "*.wav")))
            if fs:
                out[f"kl_{d.name}_{part}"] = (f"klettres-data (Debian 4:22.12.3-1) {d.name}/{part}/", "GPL-2.0-or-later", fs)
    for d in sorted(debs.glob("x_asterisk*/usr/share/asterisk/sounds/*/")):
        fs = sorted(glob.glob(str(d / "**/*.wav"), recursive=True))
        pkg = d.parts[-5].removeprefix("x_")
        lic = AST_LICENCES.get(d.name, "")
        out[f"ast_{d.name}"] = (f"{pkg} (Debian) sounds/{d.name}/", lic, fs)
    return out


MIXED = (
    "kt_ca", "kt_da", "kt_en", "kt_fr", "kt_ru", "kt_uk", "kl_de_alpha", "kl_da_syllab",
    "kl_hu_alpha", "kl_hu_syllab", "kl_ml_alpha", "kl_ml_syllab",
)
"""Folders holding several voices: 20 random 3 s stretches of their speech did not all
agree (lowest pairwise cosine under 0.3, measured once with the ECAPA model); left out."""
CONSISTENT = 0.40
"""A folder's first-half and second-half voiceprints must agree this well (one voice)."""


def folder_embeddings(sets: dict[str, tuple[str, str, list[str]]], cache: Path) -> dict[str, np.ndarray]:
    """Two 3 s voiceprints per folder (speech of its first and second half of recordings)."""
    import json

    if cache.exists():
        return {k: np.asarray(v, np.float32) for k, v in json.loads(cache.read_text()).items()}
    from engine.audio import load_audio
    from engine.encoder import default_encoder
    from tests._helpers_identify import trim

    enc = default_encoder()
    out = {}
    for name, (_, _, fs) in sets.items():
        halves = [fs[: len(fs) // 2], fs[len(fs) // 2 :]] if len(fs) >= 4 else [fs, fs]
        chunks = []
        for h in halves:
            parts, got = [], 0.0
            for f in h:
                y = trim(load_audio(f).mono())
                if y.size < 0.25 * SR:
                    continue
                parts.append(y / max(1e-6, np.abs(y).max()) * 0.5)
                got += y.size / SR
                if got >= 3.0:
                    break
            if parts:
                chunks.append(np.concatenate(parts)[: 3 * SR].astype(np.float32))
        if len(chunks) < 2 or min(c.size for c in chunks) < 2 * SR:
            continue
        w = np.stack([np.pad(c, (0, 3 * SR - c.size)) for c in chunks])
        out[name] = enc.embed(w, np.array([c.size for c in chunks]))
    cache.write_text(json.dumps({k: v.tolist() for k, v in out.items()}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debs", type=Path, required=True)
    ap.add_argument("--cache", type=Path, required=True, help="folder voiceprints (json), made once")
    ap.add_argument("--dry-run", action="store_true", help="print the speaker plan only")
    args = ap.parse_args()

    sets = package_sets(args.debs)
    emb = folder_embeddings(sets, args.cache)
    voices = []  # (folder, centroid)
    for name, e in sorted(emb.items()):
        agree = float(e[0] @ e[1])
        secs = len(sets[name][2])
        if name in MIXED or agree < CONSISTENT or secs < 10:
            print(f"  leave out {name}: halves agree {agree:.2f}, {secs} recordings")
            continue
        c = e.mean(0)
        voices.append((name, c / np.linalg.norm(c)))
    cen = np.stack([v[1] for v in voices])
    cos = cen @ cen.T
    parent = list(range(len(voices)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(voices)):
        for j in range(i + 1, len(voices)):
            if cos[i, j] >= SAME or frozenset((voices[i][0], voices[j][0])) in SAME_PERSON:
                print(f"  same voice: {voices[i][0]} ~ {voices[j][0]} ({cos[i, j]:.2f})")
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(voices)):
        groups.setdefault(find(i), []).append(i)
    speakers = list(groups.values())
    spk_cen = np.stack([cen[g].mean(0) / np.linalg.norm(cen[g].mean(0)) for g in speakers])
    sc = spk_cen @ spk_cen.T
    size = [sum(len(sets[voices[i][0]][2]) for i in g) for g in speakers]
    keep = [True] * len(speakers)
    for i in range(len(speakers)):
        for j in range(i + 1, len(speakers)):
            if keep[i] and keep[j] and sc[i, j] >= DISTINCT:
                drop = j if size[j] < size[i] else i
                print(f"  not clearly distinct ({sc[i, j]:.2f}): drop {[voices[k][0] for k in speakers[drop]]}")
                keep[drop] = False
    plan = [
        {"sessions": [{"set": voices[i][0], "files": sets[voices[i][0]][2]} for i in g], "seconds": float(size[k])}
        for k, g in enumerate(speakers) if keep[k]
    ]
    kept = [k for k in range(len(speakers)) if keep[k]]
    off = sc[np.ix_(kept, kept)][np.triu_indices(len(kept), 1)]
    print(f"{len(plan)} distinct speakers ({sum(len(p['sessions']) > 1 for p in plan)} in 2+ folders); "
          f"speaker-to-speaker cosine max {off.max():.3f}, mean {off.mean():.3f}")
    if not args.dry_run:
        write(plan, sets)


def _session_name(set_name: str) -> str:
    """One package folder is one session (KLettres keeps letters and syllables apart:
    two recording sets of one contributor, made in one sitting or not)."""
    return set_name


LEGACY = {
    "calib_cards": ("calib_cards.ogg", "pocketsphinx 5.1.1 sdist test/data/cards (tests/data/calib_cards.ogg)", "BSD-2-Clause"),
    "calib_chan3": ("calib_chan3.ogg", "pocketsphinx 5.1.1 sdist test/regression/chan3.wav (tests/data/calib_chan3.ogg)", "BSD-2-Clause"),
    "calib_forever": ("calib_forever.ogg", "pocketsphinx 5.1.1 sdist test/data/forever (tests/data/calib_forever.ogg)", "BSD-2-Clause"),
    "calib_leaktest": ("calib_leaktest.ogg", "pocketsphinx 5.1.1 sdist test/data/vad/leak-test.wav (tests/data/calib_leaktest.ogg)", "BSD-2-Clause"),
    "calib_librivox": ("calib_librivox_austen.ogg", "pocketsphinx 5.1.1 sdist test/data/librivox (LibriVox; tests/data/calib_librivox_austen.ogg)", "Public domain (LibriVox)"),
}
"""Single-speaker recordings already in tests/data (tests/data/README.md) that join the set."""


def legacy_speakers() -> list[dict]:
    """The tests/data voices as plan entries with their utterances (trimmed speech runs)."""
    from engine.audio import VOICEPRINT_LIMITS, load_audio
    from engine.vad import speech_regions
    from tests import _helpers_identify as H

    out = []
    for spk in ("A", "B"):
        utts = [H.clip(spk, part, i) for part in ("enroll", "test") for i in range(len(H.STRETCHES[spk][part]))]
        out.append({"id": f"pyannote_{spk}", "sessions": {"pyannote_sample": utts}, "seconds": sum(u.shape[0] for u in utts) / SR,
                    "source": "pyannote-audio 4.0.7 wheel pyannote/audio/sample/sample.wav, single-speaker stretches "
                    f"of {'speaker90' if spk == 'A' else 'speaker91'} (tests/data/pyannote_sample.wav)", "licence": "MIT"})
    for sid, (name, src, lic) in LEGACY.items():
        x = load_audio(H.DATA / name, limits=VOICEPRINT_LIMITS).mono()
        utts = []
        for r in speech_regions(x):
            a, b = int(r.start * SR), int(r.end * SR)
            if b - a >= int(0.4 * SR):
                utts.append(x[a:b].astype(np.float32))
        out.append({"id": sid, "sessions": {sid: utts}, "seconds": sum(u.shape[0] for u in utts) / SR, "source": src, "licence": lic})
    return out


def write(plan: list[dict], sets: dict[str, tuple[str, str, list[str]]]) -> None:
    import soundfile as sf

    from engine.audio import load_audio
    from tests._helpers_identify import trim

    rng = np.random.default_rng(0)
    speakers: list[dict] = []
    used: set[str] = set()
    for p in sorted(plan, key=lambda p: sorted(s["set"] for s in p["sessions"])[0]):
        sessions: dict[str, list[str]] = {}
        for s in p["sessions"]:
            sessions.setdefault(_session_name(s["set"]), []).extend(s["files"])
        base = sorted(sessions)[0]
        sid = base
        k = 2
        while sid in used:
            sid = f"{base}_{k}"
            k += 1
        used.add(sid)
        speakers.append({"id": sid, "sessions": sessions, "seconds": p["seconds"]})
    speakers += legacy_speakers()
    # roles: every multi-session speaker and the ones with most speech are enrolled
    single = sorted((s for s in speakers if len(s["sessions"]) == 1), key=lambda s: -s["seconds"])
    n_str = max(6, round(0.3 * len(speakers)))
    strangers = {s["id"] for s in single[-n_str:]}
    full = ROOT / "bench/data/devset"
    mini = ROOT / "tests/data/devset_mini"
    for folder in (full, mini):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.ogg"):
            old.unlink()
    manifests = {full: {"files": [], "speakers": {}}, mini: {"files": [], "speakers": {}}}
    mini_ids = _mini_pick(speakers, strangers)
    for s in speakers:
        role = "stranger" if s["id"] in strangers else "enrolled"
        secs = {}
        for sess, files in sorted(s["sessions"].items()):
            utts, got = [], 0.0
            for f in files:
                y = f if isinstance(f, np.ndarray) else trim(load_audio(f).mono())
                if y.shape[0] < 0.25 * SR:
                    continue
                utts.append((y / max(1e-6, float(np.abs(y).max())) * 0.5).astype(np.float32))
                got += y.shape[0] / SR
                if got >= MAX_SECONDS:
                    break
            secs[sess] = (utts, got)
        enroll = max(secs, key=lambda k: secs[k][1]) if role == "enrolled" else None
        label = s.get("source") or "; ".join(sets[f][0] for f in _sets_of(s, sets))
        for folder in (full, mini) if s["id"] in mini_ids else (full,):
            cap = MAX_SECONDS if folder is full else 24.0
            man = manifests[folder]
            man["speakers"][s["id"]] = {"role": role, "label": label, "enroll_session": enroll}
            for sess, (utts, _) in secs.items():
                pieces, bounds, pos, got = [], [], 0, 0.0
                gap = np.zeros(int(0.25 * SR), np.float32)
                for u in utts:
                    if got >= cap:
                        break
                    bounds.append((pos, pos + u.shape[0]))
                    pieces += [u, gap]
                    pos += u.shape[0] + gap.shape[0]
                    got += u.shape[0] / SR
                name = f"{s['id']}__{sess}.ogg"
                sf.write(folder / name, np.concatenate(pieces), SR, format="OGG", subtype="VORBIS")
                src = (s["source"], s["licence"]) if "source" in s else sets[
                    next(x for x in _sets_of(s, sets) if _session_name(x) == sess)]
                man["files"].append(
                    {"file": name, "speaker": s["id"], "session": sess, "source": src[0], "licence": src[1],
                     "seconds": round(got, 2), "utterances": bounds}
                )
    for folder, man in manifests.items():
        man["enroll_seconds"] = ENROLL_SECONDS if folder is full else 10.0
        (folder / "manifest.json").write_text(json.dumps(man, indent=1))
        (folder / "README.md").write_text(readme(folder, man))
        print(folder, len(man["speakers"]), "speakers", len(man["files"]), "files")
    del rng


LICENCES = """\
Licences of the sources (all Debian main packages; unmodified recordings, trimmed,
resampled to 16 kHz and re-encoded as Ogg Vorbis; copyright files in
/usr/share/doc/<package>/copyright):

- ktuberling-data (KTuberling, KDE): GPL-2.0-or-later; "Copyright 2007-2017 Albert
  Astals Cid, 2000 KDE Team, 2000-2002 Meni Livne, 1999-2006 Eric Bischoff" and the
  KDE translators who recorded the words of each language.
- klettres-data (KLettres, KDE): GPL-2.0-or-later; "Copyright 2001-2011 Anne-Marie
  Mahfouf, 2001 Eric Bischoff, 2005 Mark Kretschmann, 2005 Michael Goettsche, 2007
  Pino Toscano" and the recorders of each language.
- asterisk-core-sounds-{en,es,fr,it,ru}-wav (Asterisk core sounds 1.6.1): en and es
  "Copyright 2003-2010 Allison Smith", fr "Copyright 2006-2008 June Wallack"
  (CC-BY-SA-3.0); it "Copyright 2012 Carlo Flora", ru "Copyright 2010 Maxim Topal"
  (CC-BY-3.0).
- asterisk-prompt-it-menardi-wav: "Copyright 2006-2011 Marco Menardi e Paola Dal Zot",
  CC-BY-SA-3.0 (Italian).

These files are test data, not part of the installed application. Each recording is
one word, letter, syllable or prompt of one speaker; a speaker's "session" is one
package folder. Sessions of one speaker are: the English and the Mexican Spanish
Asterisk prompts of Allison Smith (two recording projects); KTuberling word sets of
several languages that one contributor recorded (voices that agree above the SAME
cosine); and KLettres' letters and syllables of one language (two recording sets of one
contributor, possibly made in one sitting: the weakest kind of second session).
"""


def readme(folder: Path, man: dict) -> str:
    rows = []
    total = 0.0
    for f in man["files"]:
        role = man["speakers"][f["speaker"]]["role"]
        enr = " (enrollment)" if man["speakers"][f["speaker"]]["enroll_session"] == f["session"] else ""
        rows.append(f"| `{f['file']}` | {f['speaker']} | {role} | {f['session']}{enr} | {f['seconds']:.1f} | "
                    f"{len(f['utterances'])} | {f['source']} | {f['licence']} |")
        total += f["seconds"]
    n_multi = sum(1 for s in man["speakers"] if sum(f["speaker"] == s for f in man["files"]) > 1)
    head = (
        f"# Identification dev set ({folder.relative_to(ROOT)})\n\n"
        f"Made by `bench/make_devset.py`, read by `bench/devset.py`. {len(man['speakers'])} speakers "
        f"({sum(v['role'] == 'enrolled' for v in man['speakers'].values())} enrolled, "
        f"{sum(v['role'] == 'stranger' for v in man['speakers'].values())} never enrolled), "
        f"{n_multi} of them in two or more sessions; {total / 60:.1f} min of speech. "
        f"Enrollment clips: the first {man['enroll_seconds']:g} s of speech of the enrollment session.\n\n"
        "Speakers were checked to be distinct with the ECAPA model (engine/encoder.py): the "
        "voiceprints of two different speakers' folders stay under a cosine of "
        f"{DISTINCT} (voiceprints of one folder's two halves agree at {CONSISTENT} or more; "
        f"folders of two packages above {SAME} were taken as one person).\n\n"
    )
    table = ("| file | speaker | role | session | seconds | utterances | from | licence |\n"
             "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    return head + LICENCES + "\n" + table


def _sets_of(s: dict, sets: dict) -> list[str]:
    files = {f for fs in s["sessions"].values() for f in fs if isinstance(f, str)}
    return [k for k, v in sets.items() if files & set(v[2])]


def _mini_pick(speakers: list[dict], strangers: set[str]) -> set[str]:
    """The small copy: up to 3 multi-session speakers, 5 more enrolled, 3 strangers."""
    multi = [s["id"] for s in speakers if len(s["sessions"]) > 1][:3]
    enrolled = [s["id"] for s in speakers if s["id"] not in strangers and s["id"] not in multi][:5]
    return set(multi) | set(enrolled) | set(sorted(strangers)[:3])


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    main()
