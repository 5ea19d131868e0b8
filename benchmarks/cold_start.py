"""Start-up of the frozen bundle against the source tree: to window shown, to `selftest` OK.

    python benchmarks/cold_start.py [--bundle dist/ceusdesk/ceusdesk] [--repeats 3] [--drop-caches]

Each measurement is the wall time of a fresh process, from spawn to exit:
- ``window``: ``ceusdesk gui --screenshot PNG`` (offscreen Qt): builds the main window, shows it, grabs
  the first frame and quits - the time a user waits for the window, plus a few ms for the PNG;
- ``selftest``: ``ceusdesk selftest --json``: verify the model (every sha256), synthesize the built-in
  case, analyze it; its own step timings are printed too.
The same commands run from the source tree (``python -m ceusdesk``) in the same run, so the table shows
the bundle/source ratio on this machine. ``--drop-caches`` (root, Linux) empties the page cache before
every run: a true cold start, as after a reboot; without it the runs after the first are warm.
"""
from __future__ import annotations

import sys
from pathlib import Path

# run as a script, Python puts benchmarks/ first on sys.path, where sibling scripts (inspect.py …)
# would shadow standard modules: put the repository root there instead, before anything else loads
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def timed(cmd: list[str], env: dict[str, str], cold: bool) -> tuple[float, str]:
    """Wall seconds of one run of ``cmd`` and its stdout; a failing run stops the benchmark."""
    if cold:
        drop_caches()
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SystemExit(f"cold_start: {' '.join(cmd)} exited {proc.returncode}: {tail}")
    return wall, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "dist" / "ceusdesk" / "ceusdesk")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the source-tree runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--drop-caches", action="store_true", help="empty the page cache before each run")
    args = parser.parse_args(argv)
    if not args.bundle.is_file():
        print(f"cold_start: {args.bundle}: no bundle (build it with packaging/build.sh)", file=sys.stderr)
        return 2

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    bundle_model: str | None = None  # the package the bundle's selftest used; the source runs use it too
    starts = {"bundle": [str(args.bundle)], "source": [args.python, "-m", "ceusdesk"]}
    rows: dict[tuple[str, str], list[float]] = {}
    steps: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ceusdesk-coldstart-") as tmp:
        for what in ("window", "selftest"):
            for where, start in starts.items():
                if what == "window":
                    cmd = [*start, "gui", "--screenshot", str(Path(tmp) / f"{where}.png")]
                else:
                    # the source tree tests the bundle's own package, so both do the same work
                    model = ["--model", bundle_model] if where == "source" and bundle_model else []
                    cmd = [*start, "selftest", "--json", *model]
                for _ in range(args.repeats):
                    wall, out = timed(cmd, env, args.drop_caches)
                    rows.setdefault((what, where), []).append(wall)
                    if what == "selftest":
                        report = json.loads(out)
                        steps[where] = report["timings_ms"]
                        bundle_model = bundle_model or report["model"]["manifest"]

    mode = "cold (page cache dropped)" if args.drop_caches else "first run cold-ish, then warm"
    print(f"ceusdesk start-up, {args.repeats} runs each, {mode}; wall seconds, spawn to exit")
    print(f"{'':10}{'where':8}{'first':>8}{'median':>8}{'min':>8}")
    for (what, where), walls in rows.items():
        print(f"{what:10}{where:8}{walls[0]:8.2f}{statistics.median(walls):8.2f}{min(walls):8.2f}")
    for what in ("window", "selftest"):
        b, s = statistics.median(rows[(what, "bundle")]), statistics.median(rows[(what, "source")])
        print(f"{what}: bundle/source median ratio {b / s:.2f}")
    for where, t in steps.items():
        print(f"selftest steps ({where}, last run, ms): "
              + ", ".join(f"{k} {v:.0f}" for k, v in t.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
