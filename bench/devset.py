"""The identification dev set: real recorded speech of many speakers, with exact truth.

Provenance and licences of every file: ``bench/data/devset/README.md`` (the full set)
and ``tests/data/devset_mini/README.md`` (the small copy the tests use). Each audio
file is one speaker in one recording session (Ogg Vorbis, 16 kHz mono): the speaker's
utterances (trimmed to speech) joined by short digital silences; ``manifest.json``
beside it lists, per file, the speaker, the session, the source and licence and the
utterance boundaries (samples at 16 kHz).

Roles (fixed in the manifest, so every user sees the same split):

- ``enrolled``: in the library. Each is enrolled from the first utterances of its
  *enrollment session* (``enroll_session``) up to ``enroll_seconds`` of speech; those
  utterances never appear in a test conversation.
- ``stranger``: never enrolled; all of their speech is test speech.

What :class:`DevSet` builds (deterministic for a given ``seed``):

- :meth:`DevSet.enrollment`: the enrollment clip of an enrolled speaker.
- :meth:`DevSet.conversations`: 2-5 person conversations concatenated from held-out
  utterances (turns of 1-8 utterances joined by 0.15-0.35 s pauses, 0.3-1.2 s between
  turns, one gain per speaker, -70 dBFS noise floor), with exact ``(start, end,
  speaker)`` truth. Most contain one or two strangers.
- :meth:`DevSet.cross_session`: conversations in which every enrolled speaker talks
  only from a session *other* than the one they were enrolled from, mixed with
  strangers (enroll from one session, identify in another).
- :meth:`DevSet.split_person`: conversations in which one enrolled speaker talks from
  two different sessions (two microphones/rooms), the case in which diarization
  splits one person into two clusters; truth keeps one speaker label.
- :meth:`DevSet.segments`: fixed-length speech segments with speaker and session
  labels, for calibrating same/different-speaker cosines.

    from bench.devset import load
    ds = load()              # bench/data/devset (the full set)
    ds = load("mini")        # tests/data/devset_mini (small, used by the tests)
    lib = {s: encoder.embed(ds.enrollment(s)[None])[0] for s in ds.enrolled}
    for conv in ds.conversations(n=12, seed=0):
        conv.samples, conv.truth
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

SR = 16000
ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"full": ROOT / "bench" / "data" / "devset", "mini": ROOT / "tests" / "data" / "devset_mini"}


@dataclass(frozen=True)
class SessionFile:
    """One speaker in one recording session: a file and its utterance boundaries."""

    speaker: str
    session: str
    path: Path
    source: str
    licence: str
    utterances: tuple[tuple[int, int], ...]  # (start, end) samples at 16 kHz


@dataclass(frozen=True)
class Speaker:
    id: str
    role: str  # "enrolled" | "stranger"
    label: str  # human description (package, language, voice)
    sessions: tuple[str, ...]
    enroll_session: str | None


@dataclass(frozen=True)
class Conversation:
    """A generated multi-speaker recording with exactly known speaker turns."""

    name: str
    samples: np.ndarray  # float32 (n,) at 16 kHz
    truth: tuple[tuple[float, float, str], ...]  # (start s, end s, speaker id), sorted
    sessions: tuple[tuple[float, float, str], ...] = field(default=())  # (start, end, session)
    focus: str = ""  # split_person(): the speaker who talks from two sessions

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / SR

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(sorted({s for _, _, s in self.truth}))


class DevSet:
    """Loader over one dev-set folder (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        m = json.loads((folder / "manifest.json").read_text())
        self.enroll_seconds: float = float(m["enroll_seconds"])
        self.files: dict[tuple[str, str], SessionFile] = {}
        for f in m["files"]:
            sf_ = SessionFile(
                f["speaker"], f["session"], folder / f["file"], f["source"], f["licence"],
                tuple((int(a), int(b)) for a, b in f["utterances"]),
            )
            self.files[(sf_.speaker, sf_.session)] = sf_
        self.speakers: dict[str, Speaker] = {}
        for sid, s in sorted(m["speakers"].items()):
            sessions = tuple(sorted(k[1] for k in self.files if k[0] == sid))
            self.speakers[sid] = Speaker(sid, s["role"], s["label"], sessions, s.get("enroll_session"))

    # -- who -----------------------------------------------------------------------------

    @property
    def enrolled(self) -> tuple[str, ...]:
        return tuple(s for s, v in self.speakers.items() if v.role == "enrolled")

    @property
    def strangers(self) -> tuple[str, ...]:
        return tuple(s for s, v in self.speakers.items() if v.role == "stranger")

    @property
    def multi_session(self) -> tuple[str, ...]:
        """Enrolled speakers with at least one session besides the enrollment one."""
        return tuple(s for s in self.enrolled if len(self.speakers[s].sessions) > 1)

    # -- audio ---------------------------------------------------------------------------

    @cached_property
    def _audio(self) -> dict[tuple[str, str], np.ndarray]:
        import soundfile as sf

        out = {}
        for key, f in self.files.items():
            x, rate = sf.read(f.path, dtype="float32", always_2d=True)
            if rate != SR:
                raise ValueError(f"{f.path}: {rate} Hz, expected {SR}")
            out[key] = x.mean(axis=1)
        return out

    def utterances(self, speaker: str, session: str) -> list[np.ndarray]:
        """The utterances of one speaker-session, float32 at 16 kHz, peak 0.5."""
        x = self._audio[(speaker, session)]
        return [_peak(x[a:b]) for a, b in self.files[(speaker, session)].utterances]

    def _split(self, speaker: str) -> tuple[list[np.ndarray], dict[str, list[np.ndarray]]]:
        """(enrollment utterances, held-out utterances per session)."""
        sp = self.speakers[speaker]
        held: dict[str, list[np.ndarray]] = {}
        enroll: list[np.ndarray] = []
        for sess in sp.sessions:
            utts = self.utterances(speaker, sess)
            if sess == sp.enroll_session and sp.role == "enrolled":
                got, k = 0.0, 0
                while k < len(utts) and got < self.enroll_seconds:
                    got += utts[k].shape[0] / SR
                    k += 1
                enroll, utts = utts[:k], utts[k:]
            held[sess] = utts
        return enroll, held

    def enrollment(self, speaker: str) -> np.ndarray:
        """Enrollment clip: the first utterances of the enrollment session (0.2 s pauses)."""
        enroll, _ = self._split(speaker)
        if not enroll:
            raise KeyError(f"{speaker} is not enrolled")
        pause = np.zeros(int(0.2 * SR), np.float32)
        return np.concatenate([p for u in enroll for p in (u, pause)][:-1]).astype(np.float32)

    def held_out(self, speaker: str, session: str | None = None) -> list[np.ndarray]:
        """Test utterances of a speaker (never in its enrollment clip); one session or all."""
        _, held = self._split(speaker)
        if session is not None:
            return list(held.get(session, []))
        return [u for s in sorted(held) for u in held[s]]

    # -- generated recordings ------------------------------------------------------------

    def conversations(self, n: int = 16, *, seed: int = 0) -> list[Conversation]:
        """``n`` conversations of 2-5 people; speech from each speaker's held-out utterances
        of its enrollment session (strangers: any session)."""
        rng = np.random.default_rng(seed)
        out = []
        enrolled, strangers = list(self.enrolled), list(self.strangers)
        for k in range(n):
            size = int(rng.integers(2, 6))
            n_str = min(len(strangers), int(rng.choice([0, 1, 1, 2])) if size > 2 else int(rng.integers(0, 2)))
            people = list(rng.choice(enrolled, size - n_str, replace=False))
            people += list(rng.choice(strangers, n_str, replace=False)) if n_str else []
            pools = {p: [self._pool(p, self._home_session(p))] for p in people}
            out.append(self._assemble(f"conv{k:02d}", pools, rng))
        return out

    def cross_session(self, n: int = 8, *, seed: int = 0) -> list[Conversation]:
        """Conversations of multi-session enrolled speakers talking from a session they were
        NOT enrolled from, with one or two strangers each."""
        rng = np.random.default_rng(1000 + seed)
        multi, strangers = list(self.multi_session), list(self.strangers)
        out = []
        for k in range(n):
            size = int(rng.integers(1, min(4, len(multi)) + 1))
            people = list(rng.choice(multi, size, replace=False))
            people += list(rng.choice(strangers, int(rng.integers(1, 3)), replace=False))
            pools = {}
            for p in people:
                sp = self.speakers[p]
                other = [s for s in sp.sessions if s != sp.enroll_session] if sp.role == "enrolled" else list(sp.sessions)
                pools[p] = [self._pool(p, str(rng.choice(other)))]
            out.append(self._assemble(f"cross{k:02d}", pools, rng))
        return out

    def split_person(self, n: int = 4, *, seed: int = 0) -> list[Conversation]:
        """Conversations where one multi-session enrolled speaker talks from two sessions
        (its enrollment session and another), with 1-2 other people; truth has one label."""
        rng = np.random.default_rng(2000 + seed)
        multi = list(self.multi_session)
        out = []
        for k in range(n):
            who = str(multi[k % len(multi)])
            sp = self.speakers[who]
            other = str(rng.choice([s for s in sp.sessions if s != sp.enroll_session]))
            rest = [s for s in self.enrolled + self.strangers if s != who]
            people = list(rng.choice(rest, int(rng.integers(1, 3)), replace=False))
            pools = {p: [self._pool(p, self._home_session(p))] for p in people}
            pools[who] = [self._pool(who, sp.enroll_session or other), self._pool(who, other)]
            conv = self._assemble(f"split{k:02d}", pools, rng, min_turns=4)
            out.append(Conversation(conv.name, conv.samples, conv.truth, conv.sessions, focus=who))
        return out

    def segments(
        self, seconds: float = 3.0, *, held_out: bool = False
    ) -> tuple[np.ndarray, list[str], list[str]]:
        """Speech of every speaker-session cut into non-overlapping ``seconds`` segments
        (utterances joined without pauses): ``(segments (n, samples) float32, speakers,
        sessions)``. ``held_out``: leave out the enrollment utterances."""
        w = int(seconds * SR)
        segs, spk, ses = [], [], []
        for (s, sess) in sorted(self.files):
            utts = self.held_out(s, sess) if held_out else self.utterances(s, sess)
            if not utts:
                continue
            z = np.concatenate(utts)
            for i in range(0, z.shape[0] - w + 1, w):
                segs.append(z[i : i + w])
                spk.append(s)
                ses.append(sess)
        return np.stack(segs).astype(np.float32), spk, ses

    # -- helpers -------------------------------------------------------------------------

    def _home_session(self, speaker: str) -> str:
        sp = self.speakers[speaker]
        return sp.enroll_session if sp.role == "enrolled" and sp.enroll_session else sp.sessions[0]

    def _pool(self, speaker: str, session: str) -> list[tuple[np.ndarray, str]]:
        return [(u, session) for u in self.held_out(speaker, session)]

    def _assemble(
        self,
        name: str,
        pools: dict[str, list[list[tuple[np.ndarray, str]]]],
        rng: np.random.Generator,
        *,
        min_turns: int = 2,
    ) -> Conversation:
        """Turns of person ``p`` cycle through its sub-pools ``pools[p]`` (one per session)."""
        people = sorted(pools)
        keys = [(p, i) for p in people for i in range(len(pools[p]))]
        order = {k: list(rng.permutation(len(pools[k[0]][k[1]]))) for k in keys}
        done = dict.fromkeys(people, 0)
        gain = {p: float(10 ** (rng.uniform(-6.0, 0.0) / 20)) for p in people}
        n_turns = max(min_turns * len(people), int(rng.integers(6, 13)))
        seq: list[str] = [str(p) for p in rng.permutation(people)]  # everyone speaks early
        while len(seq) < n_turns or any(seq.count(p) < min_turns for p in people):
            seq.append(str(rng.choice([p for p in people if p != seq[-1]])))
        pieces: list[np.ndarray] = []
        truth: list[tuple[float, float, str]] = []
        sess_spans: list[tuple[float, float, str]] = []
        pos = 0
        for p in seq:
            key = (p, done[p] % len(pools[p]))
            done[p] += 1
            pool = pools[p][key[1]]
            if not order[key]:  # pool used up: start it again (new order)
                order[key] = list(rng.permutation(len(pool)))
            g = int(rng.uniform(0.3, 1.2) * SR)
            pieces.append(np.zeros(g, np.float32))
            pos += g
            start = pos
            target = rng.uniform(2.5, 9.0) * SR
            got = 0
            while order[key] and (got == 0 or got < target):
                u, sess = pool[order[key].pop()]
                if got:
                    q = int(rng.uniform(0.15, 0.35) * SR)
                    pieces.append(np.zeros(q, np.float32))
                    pos += q
                pieces.append((u * gain[p]).astype(np.float32))
                sess_spans.append((pos / SR, (pos + u.shape[0]) / SR, sess))
                pos += u.shape[0]
                got = pos - start
            truth.append((start / SR, pos / SR, p))
        pieces.append(np.zeros(int(0.8 * SR), np.float32))
        x = np.concatenate(pieces)
        x = x + rng.normal(0.0, 10 ** (-70 / 20), x.shape[0]).astype(np.float32)
        return Conversation(name, np.clip(x, -1, 1).astype(np.float32), tuple(truth), tuple(sess_spans))


def _peak(x: np.ndarray, peak: float = 0.5) -> np.ndarray:
    return (x * (peak / max(float(np.abs(x).max()), 1e-6))).astype(np.float32)


def load(which: str = "full") -> DevSet:
    """The full dev set (``"full"``, bench/data/devset) or its small copy (``"mini"``)."""
    return DevSet(FOLDERS[which])
