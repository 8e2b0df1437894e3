"""Smoke-test a frozen build: run ``voiceprint-studio --self-test`` offscreen.

    python packaging/smoke_test.py [EXE] [--timeout S]

EXE defaults to ``packaging/dist/voiceprint-studio/voiceprint-studio`` (``.exe`` on Windows,
the ``.app``'s binary on macOS). The app runs with ``QT_QPA_PLATFORM=offscreen`` and a
throw-away ``VPSTUDIO_HOME``, so it never touches the user's library. Fails (exit 1) on a
non-zero exit code, a ``Traceback`` anywhere in the output, a time-out, a JSON summary that
does not say ``"ok": true``, or (POSIX) a file the app wrote in a fresh, empty HOME outside
its own cache folder: ONNX Runtime's telemetry wrote ``~/.cache/Microsoft/...`` there when
the switch in the runtime hook was missing. Prints the elapsed time and the self-test's own step timings.
Standard library only: it must run without the app's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
APP = "voiceprint-studio"


def default_exe() -> Path:
    base = HERE / "dist"
    if sys.platform == "darwin":
        return base / "Voiceprint Studio.app" / "Contents" / "MacOS" / APP
    return base / APP / (f"{APP}.exe" if os.name == "nt" else APP)


def last_json_object(text: str) -> dict[str, Any] | None:
    """The self-test's summary: the last JSON object that starts at the beginning of a line."""
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(text) if ch == "{" and (i == 0 or text[i - 1] == "\n")]
    for i in reversed(starts):
        try:
            obj, _ = decoder.raw_decode(text, i)
        except ValueError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


#: What the app may leave in a fresh HOME: its cache (the CAM++ export) and the folders
#: leading to it; fontconfig's shared font index (no user data).
ALLOWED_IN_HOME = (".cache/VoiceprintStudio", ".cache/fontconfig")


def home_strays(home: Path) -> list[str]:
    """Paths under ``home`` outside :data:`ALLOWED_IN_HOME` (and not leading to one)."""
    out = []
    for p in sorted(home.rglob("*")):
        rel = p.relative_to(home).as_posix()
        if any(rel == a or rel.startswith(a + "/") or a.startswith(rel + "/")
               for a in ALLOWED_IN_HOME):
            continue
        out.append(rel)
    return out


def smoke(exe: Path, timeout: float) -> tuple[bool, str, float, dict[str, Any] | None]:
    """Run the self-test; returns (passed, reason, seconds, the app's JSON summary or None)."""
    if not exe.is_file():
        return False, f"no executable at {exe}", 0.0, None
    with tempfile.TemporaryDirectory(prefix="vp-smoke-") as home, \
            tempfile.TemporaryDirectory(prefix="vp-smoke-user-") as user:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", VPSTUDIO_HOME=home)
        env.setdefault("OMP_NUM_THREADS", "2")
        if os.name == "posix":  # a new user's HOME; the login session's runtime folder
            env.update(HOME=str(Path(user) / "home"), XDG_RUNTIME_DIR=str(Path(user) / "run"))
            for k in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "VPSTUDIO_CACHE"):
                env.pop(k, None)
            for d in ("home", "run"):
                (Path(user) / d).mkdir(mode=0o700)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([str(exe), "--self-test"], env=env, capture_output=True,
                                  text=True, errors="replace", timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout or ""
            print(out if isinstance(out, str) else out.decode(errors="replace"))
            return False, f"timed out after {timeout:.0f} s", time.perf_counter() - t0, None
        elapsed = time.perf_counter() - t0
        strays = home_strays(Path(user) / "home") if os.name == "posix" else []
    output = proc.stdout + proc.stderr
    print(output[-6000:])
    summary = last_json_object(proc.stdout)
    gui = (summary or {}).get("gui") or {}
    if summary:
        if "startup_s" in gui:
            print(f"window built in {gui['startup_s']} s (from the self-test's start)")
        steps = (summary.get("engine") or {}).get("steps", [])
        for step in steps:
            print(f"  {step.get('name', '?'):<11} {step.get('seconds', '?'):>7} s  "
                  f"{'ok' if step.get('ok') else 'FAILED'}")
        engine_s = sum(float(st.get("seconds") or 0) for st in steps)
        print(f"process start, window and exit outside the engine steps: "
              f"{elapsed - engine_s:.1f} s")
    if proc.returncode != 0:
        return False, f"exit code {proc.returncode}", elapsed, summary
    if "Traceback" in output:
        return False, "a Traceback in the output", elapsed, summary
    if summary is not None and summary.get("ok") is not True:
        return False, "the self-test summary does not say ok", elapsed, summary
    if strays:
        return False, f"the app wrote in HOME outside its folders: {strays[:5]}", elapsed, summary
    if "No module named" in str(gui.get("record_reason") or ""):
        # no sound card is fine on a build machine; a module left out of the build is not
        return False, f"a module is missing from the build: {gui['record_reason']}", elapsed, summary
    return True, "exit 0, no traceback", elapsed, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Smoke-test the frozen Voiceprint Studio.")
    ap.add_argument("exe", nargs="?", type=Path, default=default_exe())
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    ok, reason, seconds, _summary = smoke(args.exe, args.timeout)
    print(f"smoke test {'PASSED' if ok else 'FAILED'}: {reason}; {seconds:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
