"""What the frozen app must do beyond ``ceusdesk selftest``: evidence, the curve panel, no network socket.

    python packaging/frozen_app_check.py dist/ceusdesk/ceusdesk

packaging/offline_selftest.sh (without arguments) and ``build.sh --check`` run this inside the cut-off
network namespace, with a Python holding ceusdesk's runtime dependencies (build/venv): the study comes
from the source tree's phantom, everything else from the bundle.

1. ``BUNDLE selftest``; its OK line passes through;
2. the self-test's own built-in case (same seed, class and frames per clip), written to a temporary
   folder with the patient's name in Japanese, Arabic and Hebrew, analyzed by ``BUNDLE analyze --json
   --report PDF``: ``result.evidence`` must carry a liver ROI and a time-intensity curve with lesion and
   liver values, and the PDF must embed the bundled Noto fonts for all three scripts;
3. ``BUNDLE gui STUDY --roi … --analyze --screenshot PNG`` under ``QT_QPA_PLATFORM=offscreen``, the
   window tall enough to show the whole result panel: exit 0, no traceback, and the curve panel's lesion
   (yellow) and liver (green) curves drawn on the plot's background in the screenshot;
4. the same analysis with ``--dicom-out`` wrote the four DICOM result objects, and ``BUNDLE send`` (the one
   command that may connect) loads its networking and fails in one line in the cut-off namespace (exit 8);
5. where strace is installed, every other bundle command runs under it and none may create an internet
   socket (AF_INET, AF_INET6) - stronger than the namespace, which only makes them useless.

Prints one ``OK`` line per check and exits 0; the first failure is one line naming the check, exit 1.
Everything is written under one temporary folder (the audit log too: ``CEUSDESK_DATA_DIR``).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FAILED_SHOT = ROOT / "build" / "frozen_app_check-window.png"  # kept when the curve check fails

# The curve panel's colours (ceusdesk/gui/curve_panel.py: background, LESION_PEN; imaging.LIVER_COLOUR).
# tests/packaging/test_qt_standins.py renders the real panel and finds its curves with these.
PLOT_BACKGROUND = (0x15, 0x17, 0x1B)
CURVE_COLOURS = {"lesion": (0xFF, 0xD6, 0x00), "liver": (0, 230, 118)}
MIN_CURVE_PIXELS = 150  # a drawn curve gives 500+ even in a small panel; the legend alone gives ~40
WINDOW = "1400x2600"  # tall enough that the result panel needs no scrolling: the curve is on screen
INET_SOCKET = re.compile(r"socket\(AF_INET6?\b|sa_family=AF_INET6?\b")
# a name in three scripts: the report then needs every bundled font (ceusdesk/outputs/fonts,
# ceusdesk.outputs.pdftext)
PATIENT_NAME = "山田^花子=محمد^דוד"
REPORT_FONTS = ("NotoSansCJKjp", "NotoSansArabic", "NotoSansHebrew")


class CheckFailed(Exception):
    """One check failed; the message names it."""


def _box_count(mask: np.ndarray, radius: int) -> np.ndarray:
    """How many ``mask`` pixels lie in the (2r+1)² square around each pixel."""
    k = 2 * radius + 1
    c = np.pad(mask.astype(np.int32), ((radius + 1, radius), (radius + 1, radius))).cumsum(0).cumsum(1)
    return c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]


def curve_pixels(rgb: np.ndarray, radius: int = 4, min_background: int = 20, tolerance: int = 40
                 ) -> dict[str, int]:
    """Pixels of each curve's colour that have the plot's background around them, per curve.

    The ROI outlines share the colours but sit on the ultrasound image, so they do not count: what
    counts is a line drawn on the curve panel's plot."""
    rgb = rgb[..., :3].astype(np.int32)
    background = (rgb == np.array(PLOT_BACKGROUND)).all(axis=2)
    on_plot = _box_count(background, radius) >= min_background
    return {name: int(((np.abs(rgb - np.array(colour)).sum(axis=2) <= tolerance) & on_plot).sum())
            for name, colour in CURVE_COLOURS.items()}


class Bundle:
    """Runs the bundle's commands, under strace when it is installed."""

    def __init__(self, exe: Path, work: Path):
        self.exe, self.work = exe, work
        self.strace = shutil.which("strace")
        self.env = {**os.environ, "CEUSDESK_DATA_DIR": str(work / "data")}
        self.env.pop("CEUSDESK_MODEL", None)  # the bundled package (or models/ beside it), as IT runs it
        self.runs = 0

    def run(self, check: str, args: list[str], env: dict[str, str] | None = None, timeout: float = 300,
            expect: int = 0) -> subprocess.CompletedProcess:
        """Run one command; ``send`` (the one that may connect) is not traced and ``expect`` its exit."""
        cmd = [str(self.exe), *args]
        trace = self.work / f"strace-{self.runs + 1}.log"
        traced = self.strace is not None and args[0] != "send"
        self.runs += traced
        if traced:
            cmd = [self.strace, "-f", "-qq", "-e", "trace=socket,connect", "-o", str(trace), *cmd]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env={**self.env, **(env or {})})
        except subprocess.TimeoutExpired as err:
            raise CheckFailed(f"{check}: {' '.join(args[:1])} did not finish in {timeout:.0f} s") from err
        if traced and trace.is_file():
            for line in trace.read_text(errors="replace").splitlines():
                if INET_SOCKET.search(line):
                    raise CheckFailed(f"{check}: the bundle opened a network socket: {line.strip()}")
        if proc.returncode != expect:
            tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise CheckFailed(f"{check}: exit {proc.returncode}: {tail}")
        return proc


def check_selftest(bundle: Bundle) -> None:
    sys.stdout.write(bundle.run("selftest", ["selftest"]).stdout)


def make_case(work: Path) -> tuple[Path, str]:
    """The self-test's built-in case with the patient renamed (:data:`PATIENT_NAME`), in ``work``."""
    sys.path.insert(0, str(ROOT))
    import pydicom

    from ceusdesk.cli.selftest import SELFTEST_FRAMES, SELFTEST_LABEL, SELFTEST_SEED
    from ceusdesk.phantom import PhantomOptions, synthesize_case

    record = synthesize_case(work / "case", seed=SELFTEST_SEED, label=SELFTEST_LABEL, textbook=True,
                             options=PhantomOptions(frames_per_clip=SELFTEST_FRAMES))
    study = work / "case" / record["study"]
    for path in sorted(study.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8
        ds.PatientName = PATIENT_NAME
        ds.save_as(path)
    return study, ",".join(str(v) for v in record["roi"])


def analyze(bundle: Bundle, study: Path, roi: str) -> tuple[dict, Path]:
    """``BUNDLE analyze --json --report --dicom-out``: the result document and the PDF (the DICOM results
    go to ``dicom/`` beside it)."""
    pdf = bundle.work / "report.pdf"
    proc = bundle.run("analyze", ["analyze", str(study), "--roi", roi, "--json", "--report", str(pdf),
                                  "--dicom-out", str(pdf.parent / "dicom")])
    try:
        return json.loads(proc.stdout)["result"], pdf
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CheckFailed(f"analyze: --json gave no result document ({err})") from err


def check_report_fonts(pdf: Path) -> str:
    if not pdf.is_file():
        raise CheckFailed(f"report fonts: analyze --report wrote no {pdf}")
    embedded = set(re.findall(rb"/BaseFont\s*/(?:[A-Z]{6}\+)?([A-Za-z0-9-]+)", pdf.read_bytes()))
    missing = [f for f in REPORT_FONTS if not any(e.decode().startswith(f) for e in embedded)]
    if missing:
        raise CheckFailed(f"report fonts: the PDF for patient {PATIENT_NAME!r} embeds no "
                          f"{', '.join(missing)} (fonts in it: {sorted(e.decode() for e in embedded)})")
    return f"OK report fonts (analyze --report, a name in 3 scripts): {', '.join(REPORT_FONTS)} embedded"


def check_evidence(result: dict) -> str:
    evidence = result.get("evidence")
    if not evidence:
        raise CheckFailed("evidence: analyze --json has no result.evidence")
    liver = evidence.get("liver_roi")
    if not (isinstance(liver, list) and len(liver) == 4 and all(isinstance(v, int) for v in liver)):
        raise CheckFailed(f"evidence: result.evidence.liver_roi is {liver!r}, not X,Y,W,H")
    tic = [p for p in evidence.get("tic") or [] if p.get("lesion") is not None and p.get("liver") is not None]
    if len(tic) < 2:
        raise CheckFailed(f"evidence: the time-intensity curve has {len(tic)} points with lesion and liver")
    return (f"OK evidence (analyze --json): liver ROI {','.join(map(str, liver))}, "
            f"{len(tic)} curve points, washout onset {evidence.get('washout_onset_s')} s")


DICOM_RESULTS = {"SR": "1.2.840.10008.5.1.4.1.1.88.33", "KO": "1.2.840.10008.5.1.4.1.1.88.59",
                 "DOC": "1.2.840.10008.5.1.4.1.1.104.1", "PR": "1.2.840.10008.5.1.4.1.1.11.2"}


def check_dicom_results(bundle: Bundle, folder: Path) -> str:
    """The four result objects of ``analyze --dicom-out``, and ``send`` loading pynetdicom (and ssl): in the
    cut-off namespace it can only fail to connect, exit 8 with one line, never a traceback."""
    import pydicom

    found = {p.name.split("-")[0]: str(pydicom.dcmread(p, stop_before_pixels=True).SOPClassUID)
             for p in sorted(folder.glob("*.dcm"))} if folder.is_dir() else {}
    if found != DICOM_RESULTS:
        raise CheckFailed(f"DICOM results: analyze --dicom-out wrote {sorted(found)} "
                          "(expected SR, KO, DOC, PR)")
    proc = bundle.run("send", ["send", str(folder), "--to", "CHECK@127.0.0.1:9", "--timeout", "5"], expect=8)
    if "no connection" not in proc.stderr or "Traceback" in proc.stderr:
        raise CheckFailed(f"send: expected one 'no connection' line, got: {proc.stderr.strip()[-300:]}")
    return ("OK DICOM results (analyze --dicom-out: SR, KO, DOC, PR) and send (pynetdicom loads; "
            "no network here)")


def check_curve_panel(bundle: Bundle, study: Path, roi: str) -> str:
    from PIL import Image

    shot = bundle.work / "window.png"
    proc = bundle.run("curve panel", ["gui", str(study), "--roi", roi, "--analyze", "--screenshot", str(shot),
                                      "--size", WINDOW], env={"QT_QPA_PLATFORM": "offscreen"})
    if "Traceback" in proc.stderr:  # Qt prints an exception raised in a slot or a paint and carries on
        raise CheckFailed("curve panel: the app raised: " + proc.stderr[proc.stderr.index("Traceback"):]
                          .strip().splitlines()[-1])
    if not shot.is_file():
        raise CheckFailed(f"curve panel: no screenshot at {shot}")
    found = curve_pixels(np.asarray(Image.open(shot).convert("RGB")))
    missing = [name for name, n in found.items() if n < MIN_CURVE_PIXELS]
    if missing:
        FAILED_SHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, FAILED_SHOT)
        raise CheckFailed(f"curve panel: no {' or '.join(missing)} curve drawn on the plot "
                          f"(pixels found {found}; the screenshot is {FAILED_SHOT})")
    return (f"OK curve panel (gui --analyze, offscreen): lesion curve {found['lesion']} px, "
            f"liver curve {found['liver']} px on the plot")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: frozen_app_check.py BUNDLE_EXECUTABLE (e.g. dist/ceusdesk/ceusdesk)", file=sys.stderr)
        return 2
    exe = Path(args[0])
    if not exe.is_file():
        print(f"frozen_app_check: {exe}: not found (build it with packaging/build.sh)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ceusdesk-frozen-check-") as tmp:
        bundle = Bundle(exe.resolve(), Path(tmp))
        try:
            check_selftest(bundle)
            study, roi = make_case(Path(tmp))
            result, pdf = analyze(bundle, study, roi)
            print(check_evidence(result))
            print(check_report_fonts(pdf))
            print(check_dicom_results(bundle, pdf.parent / "dicom"))
            print(check_curve_panel(bundle, study, roi))
        except CheckFailed as err:
            print(f"frozen_app_check: FAILED at {err}", file=sys.stderr)
            return 1
        if bundle.strace:
            print(f"OK no internet socket in {bundle.runs} runs (strace: socket, connect)")
        else:
            print("note: strace is not installed: sockets not traced (the network namespace still cuts them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
