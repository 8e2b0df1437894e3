"""ELAN .eaf, Praat TextGrid, WebVTT and SRT: round trips, golden files, foreign files.

The golden files ``tests/data/formats_golden.{eaf,TextGrid,vtt,srt}`` are the export of
:data:`GOLDEN_TURNS` (a 7 s recording for the TextGrid's span), checked by hand:

- four turns of three speakers: Alice 0.500-2.250 s, Bob Marley 2.000-3.500 s (a name
  with a space, overlapping Alice by 0.25 s: on separate tiers, so both formats keep the
  overlap), Zoë 4.000-5.000 s (non-ASCII, written as UTF-8), Alice again 5.000-6.125 s
  (touching Zoë's end: a turn boundary that is not a gap);
- ``.eaf``: one tier per speaker (``TIER_ID`` and ``PARTICIPANT`` the name), one
  ``ALIGNABLE_ANNOTATION`` per turn whose value is the name, time slots in ms (500,
  2250, 5000, 6125 for Alice; 2000, 3500 for Bob; 4000, 5000 for Zoë),
  ``lastUsedAnnotation`` 5 (ids a2-a5, as pympi numbers them); its ``DATE`` is the
  export time, so the test sets it to 2026-01-01 before comparing;
- ``.TextGrid``: Praat's long text format, xmin 0, xmax 7, one IntervalTier per speaker
  covering 0-7 s with empty intervals for the gaps (Alice: 5 intervals, the other two 3);
- ``.vtt``: ``WEBVTT`` then four cues in time order, ``00:00:00.500 --> 00:00:02.250`` /
  ``[Alice]`` ... ``00:00:05.000 --> 00:00:06.125`` / ``[Alice]``;
- ``.srt``: the same four cues numbered 1-4 with SRT's comma before the milliseconds.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine import formats
from engine.errors import ValidationError
from engine.formats_annotation import from_eaf, from_textgrid, tiers_of, to_textgrid
from engine.formats_captions import speaker_of
from engine.segments import Turn

DATA = Path(__file__).resolve().parent / "data"
GOLDEN_TURNS = (
    Turn(0.5, 2.25, "Alice", 80.0, "SPEAKER_00"),
    Turn(2.0, 3.5, "Bob Marley", 60.0, "SPEAKER_01"),
    Turn(4.0, 5.0, "Zoë", 0.0, "SPEAKER_02"),
    Turn(5.0, 6.125, "Alice", 70.0, "SPEAKER_00"),
)
SUFFIX = {"eaf": ".eaf", "textgrid": ".TextGrid", "vtt": ".vtt", "srt": ".srt"}
NEW = tuple(SUFFIX)


def _plain(turns) -> list[tuple[float, float, str]]:
    return [(round(t.start, 3), round(t.end, 3), t.speaker) for t in turns]


def _no_date(text: str) -> str:
    return re.sub(r'DATE="[^"]*"', 'DATE="2026-01-01T00:00:00+00:00"', text)


@pytest.mark.parametrize("fmt", NEW)
def test_round_trip_keeps_times_and_speakers(tmp_path: Path, fmt: str) -> None:
    turns = [*GOLDEN_TURNS, Turn(3600.0 + 1.001, 3600.0 + 2.999, "UNKNOWN_00", 0.0, "S")]
    p = formats.write(turns, tmp_path / f"r{SUFFIX[fmt]}")
    assert formats.format_for(p) == fmt
    back = formats.read(p)
    assert _plain(back) == _plain(sorted(turns, key=lambda t: (t.start, t.end)))
    # the formats have no place for scores, clusters or channels
    assert all(t.score == 0.0 and t.cluster == "" and t.channel is None for t in back)


@pytest.mark.parametrize("fmt", NEW)
def test_export_matches_the_golden_file(fmt: str) -> None:
    golden = (DATA / f"formats_golden{SUFFIX[fmt]}").read_text(encoding="utf-8")
    if fmt == "textgrid":
        text = to_textgrid(GOLDEN_TURNS, duration=7.0)
    else:
        text = formats.dumps(GOLDEN_TURNS, fmt)
    if fmt == "eaf":
        text = _no_date(text)
    assert text == golden
    assert _plain(formats.read(DATA / f"formats_golden{SUFFIX[fmt]}")) == _plain(GOLDEN_TURNS)


def test_golden_eaf_is_one_tier_per_speaker() -> None:
    root = ET.parse(DATA / "formats_golden.eaf").getroot()
    tiers = {t.get("TIER_ID"): t for t in root.iter("TIER")}
    assert list(tiers) == ["Alice", "Bob Marley", "Zoë"]
    assert [len(t.findall("ANNOTATION")) for t in tiers.values()] == [2, 1, 1]
    assert all(t.get("PARTICIPANT") == k for k, t in tiers.items())
    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    bob = tiers["Bob Marley"].find("ANNOTATION/ALIGNABLE_ANNOTATION")
    assert (slots[bob.get("TIME_SLOT_REF1")], slots[bob.get("TIME_SLOT_REF2")]) == (2000, 3500)
    assert bob.findtext("ANNOTATION_VALUE") == "Bob Marley"
    prop = root.find("HEADER/PROPERTY[@NAME='lastUsedAnnotation']")
    assert prop is not None and prop.text == "5"


def test_result_duration_sets_the_textgrid_span(tmp_path: Path) -> None:
    from engine.identify import IdentificationResult

    res = IdentificationResult(turns=GOLDEN_TURNS, confidence=None, speaker_curves=None,
                               speaker_ids=(), clusters=(), model_id="", duration=9.5,
                               num_speakers=3)
    text = formats.dumps(res, "textgrid")
    assert "xmax = 9.500000" in text.splitlines()[4]
    # without a duration: the last turn's end
    assert "xmax = 6.125000" in formats.dumps(GOLDEN_TURNS, "textgrid").splitlines()[4]


def test_one_speakers_overlapping_turns_become_their_union(tmp_path: Path) -> None:
    turns = [Turn(0.0, 2.0, "A"), Turn(1.5, 3.0, "A"), Turn(3.0, 4.0, "A"), Turn(5.0, 6.0, "A"),
             Turn(1.0, 1.0, "B")]  # an empty turn has no annotation
    assert tiers_of(turns) == {"A": [(0.0, 4.0), (5.0, 6.0)]}
    for fmt in ("eaf", "textgrid"):
        back = formats.read(formats.write(turns, tmp_path / f"u{SUFFIX[fmt]}"))
        assert _plain(back) == [(0.0, 4.0, "A"), (5.0, 6.0, "A")]


def test_captions_say_the_speaker_in_brackets() -> None:
    vtt = formats.dumps(GOLDEN_TURNS, "vtt").splitlines()
    assert vtt[0] == "WEBVTT"
    assert vtt[2:4] == ["00:00:00.500 --> 00:00:02.250", "[Alice]"]
    srt = formats.dumps([Turn(3723.5, 3724.0, "Bob  Marley")], "srt").splitlines()
    assert srt == ["1", "01:02:03,500 --> 01:02:04,000", "[Bob Marley]", ""]
    assert speaker_of("[ Alice ]\nsecond line") == "Alice"
    assert speaker_of("Carol") == "Carol"


def test_eaf_from_elan_reads_participants_and_skips_child_tiers(tmp_path: Path) -> None:
    # as ELAN writes it: a speaker tier named by its participant, a dependent
    # transcription tier (which must not count the turns twice), and an unaligned slot
    p = tmp_path / "elan.eaf"
    p.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-05-01T10:00:00+02:00" FORMAT="3.0" VERSION="3.0"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">
 <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds"/>
 <TIME_ORDER>
  <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="1200"/>
  <TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="2750"/>
  <TIME_SLOT TIME_SLOT_ID="ts3" TIME_VALUE="3000"/>
  <TIME_SLOT TIME_SLOT_ID="ts4" TIME_VALUE="4500"/>
 </TIME_ORDER>
 <TIER LINGUISTIC_TYPE_REF="utterance" PARTICIPANT="Carol" TIER_ID="tier-1">
  <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
   <ANNOTATION_VALUE>hello there</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
 </TIER>
 <TIER LINGUISTIC_TYPE_REF="utterance" TIER_ID="Dave">
  <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" TIME_SLOT_REF1="ts3" TIME_SLOT_REF2="ts4">
   <ANNOTATION_VALUE></ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
 </TIER>
 <TIER LINGUISTIC_TYPE_REF="translation" PARENT_REF="tier-1" TIER_ID="tier-1 translation">
  <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="a3" ANNOTATION_REF="a1">
   <ANNOTATION_VALUE>bonjour</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
 </TIER>
 <LINGUISTIC_TYPE LINGUISTIC_TYPE_ID="utterance" TIME_ALIGNABLE="true"/>
 <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Association" LINGUISTIC_TYPE_ID="translation"
  TIME_ALIGNABLE="false"/>
</ANNOTATION_DOCUMENT>
""", encoding="utf-8")
    assert _plain(from_eaf(p)) == [(1.2, 2.75, "Carol"), (3.0, 4.5, "Dave")]


def test_textgrid_in_utf16_short_format_with_a_point_tier(tmp_path: Path) -> None:
    # Praat writes UTF-16 when a label is not ASCII; the short format has no keys
    text = "\n".join([
        'File type = "ooTextFile"', 'Object class = "TextGrid"', "", "0", "3", "<exists>", "2",
        '"IntervalTier"', '"Zoë"', "0", "3", "3",
        "0", "0.25", '""', "0.25", "1.5", '"hi"', "1.5", "3", '""',
        '"TextTier"', '"events"', "0", "3", "1", "1.0", '"click"',
    ]) + "\n"
    p = tmp_path / "praat.TextGrid"
    p.write_bytes(text.encode("utf-16"))
    assert _plain(from_textgrid(p)) == [(0.25, 1.5, "Zoë")]


@pytest.mark.parametrize("fmt,content", [
    ("eaf", "<not really xml"),
    ("eaf", "<?xml version='1.0'?><ANNOTATION_DOCUMENT VERSION='2.8'><TIER/></ANNOTATION_DOCUMENT>"),
    ("textgrid", "File type = \"ooTextFile\"\nnothing else\n"),
    ("vtt", "not a caption file"),
    ("srt", "1\nbad --> times\n[Alice]\n\n"),
])
def test_broken_files_give_a_format_error(tmp_path: Path, fmt: str, content: str) -> None:
    p = tmp_path / f"bad{SUFFIX[fmt]}"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(ValidationError) as e:
        formats.read(p)
    assert e.value.detail == "format.invalid"


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    for fmt in NEW:
        with pytest.raises(ValidationError):
            formats.read(tmp_path / f"none{SUFFIX[fmt]}")


@pytest.mark.parametrize("fmt", NEW)
def test_no_turns_write_a_valid_empty_file(tmp_path: Path, fmt: str) -> None:
    p = formats.write([], tmp_path / f"empty{SUFFIX[fmt]}")
    assert p.stat().st_size > 0 or fmt == "srt"  # SRT has no header
    assert formats.read(p) == []
