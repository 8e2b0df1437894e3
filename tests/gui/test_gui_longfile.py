"""Long recordings in the window (issue 13): the window holds peaks, never the recording;
samples come from the file; the overview strip and scroll bar follow the timeline."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _helpers_gui import wait_for  # noqa: E402

from engine import peak_pyramid as P  # noqa: E402
from engine.peak_pyramid import FileAudio  # noqa: E402
from gui.main_window import MainWindow  # noqa: E402

SECONDS = 240.0  # 4 min: long enough for several levels, quick to write and read


def _write(path: Path, rate: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(1)
    n = int(SECONDS * rate)
    t = np.arange(n) / rate
    x = (0.2 * np.sin(2 * np.pi * 3 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    frames = np.stack([x * (1 + 0.2 * c) for c in range(channels)], axis=1).clip(-1, 1)
    sf.write(path, frames, rate, subtype="PCM_16")
    back, _ = sf.read(path, dtype="float32", always_2d=True)
    return back[:, 0] if channels == 1 else back.mean(axis=1, dtype=np.float32)


@pytest.fixture(scope="module")
def long16(tmp_path_factory) -> tuple[Path, np.ndarray]:
    p = tmp_path_factory.mktemp("long") / "long16k.wav"
    return p, _write(p, 16000)


@pytest.fixture(scope="module")
def long44(tmp_path_factory) -> tuple[Path, np.ndarray]:
    p = tmp_path_factory.mktemp("long") / "long44k_stereo.wav"
    return p, _write(p, 44100, channels=2)


def _open(qtbot, w: MainWindow, path: Path) -> None:
    w.open_path(path)
    wait_for(qtbot, lambda: w.audio is not None and w.audio_path == str(path) and not w.bridge.busy)


def _arrays(obj: object, depth: int = 2, seen: set[int] | None = None):
    """Every numpy array reachable from ``obj``'s attributes (and lists/tuples/dicts in them)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield obj
        return
    if depth < 0:
        return
    if isinstance(obj, (list, tuple)):
        items = list(obj)
    elif isinstance(obj, dict):
        items = list(obj.values())
    else:
        items = list(getattr(obj, "__dict__", {}).values())
    for v in items:
        yield from _arrays(v, depth - 1, seen)


def test_the_window_holds_peaks_not_the_recording(qtbot, win: MainWindow, long16) -> None:
    path, x = long16
    _open(qtbot, win, path)
    assert isinstance(win.audio, FileAudio) and win.audio.num_samples == x.size
    # zoom and play so the player's and the curve's buffers are filled too
    win.timeline.zoom_to(100.0, 100.05)
    win.timeline.redraw_waveform()
    win.timeline.set_selection(50.0, 51.0)
    win.play_selection()
    wait_for(qtbot, lambda: not win.player.playing)
    held = [a for root in (win, win.audio, win.pyramid, win.player, win.timeline, win.overview,
                           win.timeline.wave_curve, win.overview.curve)
            for a in _arrays(root)]
    assert held, "the walk found no arrays at all: it would not find a full one either"
    biggest = max(a.size for a in held)
    # level 0 of the pyramid (15 k buckets) or the player's read-ahead (1 s here) at most
    assert biggest <= max(x.size // P.BASE + 16, 2 * 16000) < x.size // 100
    total = sum(a.nbytes for a in held)
    assert total < x.nbytes / 20  # the recording is 15 MB as float32; the window holds < 0.8
    lo, hi = win.pyramid.levels[0]
    assert lo.size == -(-x.size // P.BASE)
    np.testing.assert_array_equal(hi[:100], x[: 100 * P.BASE].reshape(100, -1).max(axis=1))


def test_zoomed_in_drawing_reads_the_visible_samples_from_the_file(qtbot, win: MainWindow,
                                                                   long16) -> None:
    path, x = long16
    _open(qtbot, win, path)
    win.timeline.zoom_to(0.0, SECONDS)
    win.timeline.redraw_waveform()
    cx, cy = win.timeline.wave_curve.getData()
    assert cx.size <= 8 * 1200 + 16 and cy.max() == pytest.approx(x.max())  # from the pyramid
    reads: list[tuple[int, int]] = []
    real = win.audio.read_frames
    win.pyramid._reader = lambda a, b: (reads.append((a, b)), real(a, b))[1]
    win.timeline.wave_plot.setXRange(123.0, 123.02, padding=0)
    win.timeline.redraw_waveform()
    cx, cy = win.timeline.wave_curve.getData()
    assert reads and all(122.9 * 16000 <= a < b <= 123.1 * 16000 for a, b in reads)
    i = np.round(cx * 16000).astype(int)
    np.testing.assert_array_equal(cy, x[i])  # the samples themselves, not an envelope
    assert cx.min() >= 122.99 and cx.max() <= 123.03


def test_playback_reads_the_right_samples_from_the_file(qtbot, win: MainWindow, fake_sd,
                                                        long44) -> None:
    path, x = long44
    _open(qtbot, win, path)
    assert win.audio.sample_rate == 44100 and win.audio.original_channels == 2
    win.timeline.set_selection(200.0, 205.0)  # longer than the 2 s read-ahead
    win.play_selection()
    wait_for(qtbot, lambda: fake_sd.out_streams and not win.player.playing, timeout=20)
    played = np.concatenate(fake_sd.out_streams[-1].played)
    want = x[200 * 44100: 205 * 44100]  # the mean of the two channels, at the file's rate
    assert played.size >= want.size
    np.testing.assert_allclose(played[: want.size], want, atol=1e-6)
    assert win.player._buf.size <= 2 * 44100 + 1  # seconds held, not the file


def test_enroll_excerpt_reads_the_selection_from_the_file(qtbot, win: MainWindow,
                                                          long16) -> None:
    path, x = long16
    _open(qtbot, win, path)
    win.prompts.texts = ["Eve"]
    win.timeline.set_selection(180.0, 186.0)
    win.enroll_from_selection()
    wait_for(qtbot, lambda: len(win.speakers) == 1)
    clip = win.engine.extracted[-1]
    np.testing.assert_allclose(clip.mono(), x[180 * 16000: 186 * 16000], atol=1e-6)


def test_identify_gets_the_path_and_reopening_uses_the_cache(qtbot, win: MainWindow, long16,
                                                             monkeypatch) -> None:
    path, _ = long16
    seen: list[object] = []
    real_identify = type(win.engine).identify

    def spy(self, audio, voiceprints, **kw):
        seen.append(audio)
        return real_identify(self, audio, voiceprints, **kw)

    monkeypatch.setattr(type(win.engine), "identify", spy)
    _open(qtbot, win, path)
    win.run_identify()
    wait_for(qtbot, lambda: win.review is not None and not win.bridge.busy)
    assert isinstance(seen[-1], FileAudio) and seen[-1].path == str(path)
    passes: list[int] = []
    real = P._stream_peaks
    monkeypatch.setattr(P, "_stream_peaks", lambda *a, **k: (passes.append(1), real(*a, **k))[1])
    win.audio = None
    _open(qtbot, win, path)
    assert passes == [] and win.pyramid.num_samples == SECONDS * 16000  # from the cache


def test_overview_box_and_main_view_follow_each_other(qtbot, win: MainWindow, long16) -> None:
    path, _ = long16
    _open(qtbot, win, path)
    ov = win.overview
    assert ov.duration == pytest.approx(SECONDS)
    assert ov.box.getRegion() == pytest.approx((0.0, SECONDS), abs=0.5)
    assert ov.curve.getData()[0].size > 100
    assert ov.scroll.isHidden()  # the whole recording is in view
    win.timeline.wave_plot.setXRange(60.0, 90.0, padding=0)  # zoom the timeline
    assert ov.box.getRegion() == pytest.approx((60.0, 90.0), abs=1e-6)
    ov.box.setRegion((150.0, 170.0))  # drag the box
    assert ov.view_range() == pytest.approx((150.0, 170.0), abs=1e-6)
    assert ov.scroll.value() == 150_000
    ov.centre_on(10.0)  # a click near the start: same width, clipped at 0
    assert ov.view_range() == pytest.approx((0.0, 20.0), abs=1e-6)
    win.zoom_fit()
    x0, x1 = ov.view_range()
    assert ov.box.getRegion() == pytest.approx((max(x0, 0.0), min(x1, SECONDS)), abs=1e-6)


def test_scroll_bar_range_and_scrolling(qtbot, win: MainWindow, long16) -> None:
    path, _ = long16
    _open(qtbot, win, path)
    sb = win.overview.scroll
    win.timeline.wave_plot.setXRange(30.0, 40.0, padding=0)
    assert not sb.isHidden()
    assert (sb.minimum(), sb.maximum(), sb.pageStep(), sb.value()) == (
        0, int((SECONDS - 10.0) * 1000), 10_000, 30_000)
    sb.setValue(200_000)  # the user scrolls
    assert win.overview.view_range() == pytest.approx((200.0, 210.0), abs=1e-6)
    assert win.overview.box.getRegion() == pytest.approx((200.0, 210.0), abs=1e-6)
    sb.setValue(sb.maximum())
    assert win.overview.view_range() == pytest.approx((SECONDS - 10.0, SECONDS), abs=1e-6)
    win.timeline.wave_plot.setXRange(0.0, SECONDS, padding=0)
    assert sb.isHidden() and sb.maximum() == 0


def test_cancel_while_opening_keeps_nothing(qtbot, win: MainWindow, tmp_path: Path,
                                            monkeypatch) -> None:
    import time

    path = tmp_path / "to_cancel.wav"
    _write(path, 16000)
    monkeypatch.setattr(P, "_READ_FRAMES", 16000)  # 240 reads, 10 ms each below: ~2.4 s
    real = win.engine.open_audio

    def slow(p, progress, cancel):
        return real(p, lambda f, m="": (time.sleep(0.01), progress(f, m)), cancel)

    monkeypatch.setattr(win.engine, "open_audio", slow)
    win.open_path(path)
    wait_for(qtbot, lambda: win.bridge.is_running("load") and win.progress_bar.value() > 0)
    win.cancel_jobs()
    wait_for(qtbot, lambda: not win.bridge.is_running("load"))
    qtbot.wait(50)
    assert win.audio is None and win.pyramid is None
    assert not P.cache_file(path, P.default_cache_dir()).exists()  # no partial cache
    win.open_path(path)  # opening again works, and caches
    wait_for(qtbot, lambda: win.audio is not None and not win.bridge.is_running("load"))
    assert P.cache_file(path, P.default_cache_dir()).exists()
