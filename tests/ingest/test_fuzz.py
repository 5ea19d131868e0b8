"""Seeded mutation fuzzing of real scanner files and phantom clips (issue 12, §4).

Each mutant (1-4 flipped bytes, a cut, or a header tag set to a bad value) must cost at most a warning:
no exception leaves the per-file reader or the frame decoder (other than FrameError/MediaError, which
the study turns into a warning), memory stays bounded, and the good clips in the same folder are kept
and fill the same slots. The default run makes FAST mutants; ``-m slow`` makes SLOW.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from ceusdesk.cli import main
from ceusdesk.ingest import FrameError, read_frame
from ceusdesk.ingest.media import MediaError
from ceusdesk.ingest.scan import read_one
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study
from ceusdesk.study.frames import slot_panels
from tests.tiny_package import make_tiny_package

from . import badfiles as bf
from .conftest import data_file

FAST, SLOW = 48, 1500
MEMORY_BOUND = 96e6  # bytes traced per mutant: reading it and decoding two frames (a good one: < 20 MB)
# GE LOGIQ (native, JPEG 2000), Aloka (16-bit palette, two regions), Philips (RLE palette), SonoSite (JPEG)
REAL = ["US1_UNCR.dcm", "US1_J2KR.dcm", "gdcm-US-ALOKA-16.dcm", "OBXXXX1A_rle_2frame.dcm",
        "color3d_jpeg_baseline.dcm"]
TAG_EDITS: dict[str, list[object]] = {
    "NumberOfFrames": [0, 2, 2**31 - 1, 300_000_000],
    "Rows": [0, 1, 20000, 65535],
    "Columns": [0, 3, 20000],
    "BitsAllocated": [1, 12, 32, 64],
    "BitsStored": [0, 17],
    "SamplesPerPixel": [0, 2, 4],
    "AcquisitionDateTime": ["00010101000000", "99991231235959", "2024"],
    "StudyDate": ["00010101", "99991231"],
    "ContentDate": ["00010101", "99991231"],
    "ContrastBolusStartTime": ["000000", "235959.999999"],
    "FrameTime": [1e300, -1.0, 0.0, 1e-300],
    "PhotometricInterpretation": ["ARGB", "PALETTE COLOR", "YBR_FULL", ""],
}


@pytest.fixture(scope="session")
def phantom_study(tmp_path_factory) -> Path:
    """One tiny phantom study (every protocol clip, two frames each)."""
    out = tmp_path_factory.mktemp("fuzz-phantom")
    rec = synthesize_case(out, seed=7, options=PhantomOptions(panel_size=(128, 96), frames_per_clip=2))
    (out / "case.json").write_text(json.dumps(rec))  # beside the study: its ROI for analyze
    return next(p for p in out.iterdir() if p.is_dir())


def clean_roi(phantom: Path) -> list[int]:
    rec = json.loads((phantom.parent / "case.json").read_text())
    return [int(v) for v in rec["roi"]]


def _sources(phantom: Path) -> list[Path]:
    return [data_file(n) for n in REAL] + sorted(phantom.rglob("*.dcm"))[:4]


def mutate(src: Path, dst: Path, rng: np.random.Generator) -> str:
    """Write one mutant of ``src`` to ``dst``; returns what was done (for the failure message)."""
    kind = int(rng.integers(0, 9))
    if kind == 4:
        return misplaced_marker(src, dst, rng)
    if kind >= 5:
        return round_two(src, dst, rng, kind)
    if kind == 0:
        bf.truncate(src, dst, rng)
        return "truncated"
    if kind == 1:  # flips in the header, where they change lengths, tags and VRs
        data = bytearray(src.read_bytes())
        for _ in range(int(rng.integers(1, 5))):
            data[int(rng.integers(0, min(len(data), 4096)))] = int(rng.integers(0, 256))
        dst.write_bytes(bytes(data))
        return "header bytes flipped"
    if kind == 2:
        bf.flip_bytes(src, dst, rng)
        return "bytes flipped"
    keyword = str(rng.choice(sorted(TAG_EDITS)))
    value = TAG_EDITS[keyword][int(rng.integers(0, len(TAG_EDITS[keyword])))]
    bf.tag_edit(src, dst, **{keyword: value})
    return f"{keyword}={value!r}"


def round_two(src: Path, dst: Path, rng: np.random.Generator, kind: int) -> str:
    """The families of issue 25 (tests/ingest/test_bad_files_round2.py): a forged codestream size,
    Planar Configuration 1 on compressed data, a deflate bomb, a Frame Time Vector far too long."""
    import pydicom

    ds = pydicom.dcmread(src, stop_before_pixels=True)
    compressed = str(ds.file_meta.TransferSyntaxUID).startswith("1.2.840.10008.1.2.4.")
    if kind == 5 and compressed:
        frames = int(ds.get("NumberOfFrames") or 1)
        frame = int(rng.integers(0, frames))
        bf.codestream_bomb(src, dst, frame, side=int(rng.choice([20000, 65535, 4097])))
        return f"codestream of frame {frame} claims a huge size"
    if kind == 6 and int(ds.get("SamplesPerPixel") or 1) == 3:
        bf.tag_edit(src, dst, PlanarConfiguration=1)
        return "Planar Configuration 1"
    if kind == 7:
        bf.deflate_bomb(src, dst, inflated=int(rng.choice([600, 700])) << 20)
        return "deflate bomb"
    if int(ds.get("NumberOfFrames") or 1) > 1 and not compressed and kind == 8:
        bf.long_frame_time_vector(src, dst, entries=int(rng.integers(100_000, 400_000)))
        return "Frame Time Vector far too long"
    bf.tag_edit(src, dst, PatientID=f"P\\{int(rng.integers(0, 99))}")
    return "Patient ID with a backslash"


def misplaced_marker(src: Path, dst: Path, rng: np.random.Generator) -> str:
    """A JPEG frame whose entropy-coded data holds a marker where none may be (libjpeg: "misplaced
    marker"); the header stays valid, so scanning accepts the file and only decoding that frame fails."""
    data = bytearray(src.read_bytes())
    sois = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    if not sois:
        bf.flip_bytes(src, dst, rng)
        return "bytes flipped (no JPEG frame to corrupt)"
    start = sois[int(rng.integers(0, len(sois)))]
    at = min(len(data) - 2, start + int(rng.integers(200, 900)))
    marker = [b"\xff\xd8", b"\xff\xc4", b"\xff\xda", b"\xff\xd9"][int(rng.integers(0, 4))]
    data[at:at + 2] = marker
    dst.write_bytes(bytes(data))
    return f"marker {marker.hex()} misplaced in a JPEG frame at byte {at}"


def _check_mutant(path: Path, what: str) -> None:
    tracemalloc.start()
    try:
        clip, warns = read_one(path)  # must not raise, whatever the bytes
        assert all("\n" not in w.message and w.path == str(path) for w in warns), (what, warns)
        if clip is not None:
            for index in sorted({0, clip.usable_frames - 1} - {-1}):
                try:
                    read_frame(clip, index)
                except (FrameError, MediaError):
                    pass  # reported by open_study as "could not be decoded", the clip fills no slot
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{what}: {peak / 1e6:.0f} MB traced"


def _run(n: int, seed: int, phantom: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    sources = _sources(phantom)
    folder = tmp_path / "study"
    shutil.copytree(phantom, folder)
    clean = open_study(phantom)
    for k in range(n):
        src = sources[k % len(sources)]
        dst = folder / f"zz{k:05d}.dcm"  # sorts after the good clips: a duplicate UID keeps the good one
        what = f"mutant {k} of {src.name}: " + mutate(src, dst, rng)
        _check_mutant(dst, what)
    # links a user's folder may hold: a loop, and one back up to the study itself
    (folder / "loop-a").symlink_to("loop-b")
    (folder / "loop-b").symlink_to("loop-a")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to("..")
    # the good clips beside the mutants are read and fill the same slots as without them
    study = open_study(folder, patient=clean.patient_id)  # the real files' patients may outnumber it
    kept = {e.clip.path.name for e in study.clips if e.excluded is None}
    assert {p.name for p in phantom.glob("*.dcm")} <= kept
    assert study.phase_set == clean.phase_set
    panels = slot_panels(study)
    assert all(panels[n] is not None for n, sf in clean.slots.items() if sf is not None)
    # and from the command line: a result, or one line with a documented exit code, never a traceback
    package = make_tiny_package(tmp_path / "pkg", size=32)
    roi = ",".join(map(str, clean_roi(phantom)))
    who = ["--patient", clean.patient_id]
    for argv in (["inspect", folder, *who, "--json"],
                 ["analyze", folder, *who, "--roi", roi, "--model", package, "--json"]):
        proc = subprocess.run([sys.executable, "-m", "ceusdesk", *map(str, argv)], capture_output=True,
                              text=True, timeout=300, env={**os.environ, "CEUSDESK_DATA_DIR": str(tmp_path)})
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (argv, proc.stderr[-2000:])
    # a NUL byte cannot pass through a process's argv; scripts calling main() can give one
    for argv, code in ((["analyze", folder, "--roi", roi, "--model", f"{package}\x00"], 5),
                       (["inspect", f"{folder}\x00"], 2)):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert main([str(a) for a in argv]) == code
        assert len(err.getvalue().strip().splitlines()) == 1 and "NUL byte" in err.getvalue()


def test_mutants_cost_a_warning_not_the_study(phantom_study, tmp_path):
    _run(FAST, seed=20261201, phantom=phantom_study, tmp_path=tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_many_mutants_cost_a_warning_not_the_study(phantom_study, tmp_path, seed):
    _run(SLOW, seed=seed, phantom=phantom_study, tmp_path=tmp_path)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_misplaced_marker_in_the_clips_that_fill_slots_costs_a_slot_not_a_traceback(phantom_study, tmp_path,
                                                                                        seed):
    # no good copy beside it this time: the damaged frames are the study's own
    folder = tmp_path / "study"
    shutil.copytree(phantom_study, folder)
    rng = np.random.default_rng(seed)
    for path in sorted(folder.glob("*.dcm"))[:3]:
        damaged = tmp_path / "damaged.dcm"
        misplaced_marker(path, damaged, rng)
        shutil.move(damaged, path)
    package = make_tiny_package(tmp_path / "pkg", size=32)
    roi = ",".join(map(str, clean_roi(phantom_study)))
    proc = subprocess.run([sys.executable, "-m", "ceusdesk", "analyze", str(folder), "--roi", roi, "--model",
                           str(package), "--json"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CEUSDESK_DATA_DIR": str(tmp_path)})
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if proc.returncode == 0:  # the result names what it could not use
        doc = json.loads(proc.stdout)
        assert doc["result"]["phase_set"] in ("early", "full")
    else:  # the damaged slots left too few phases: one line saying which
        assert proc.returncode in (3, 4), proc.stderr
        said = [line for line in proc.stderr.splitlines() if line.startswith("ceusdesk: ")]
        assert len(said) == 1 and proc.stderr.strip().endswith(said[0]), proc.stderr  # log lines before it
