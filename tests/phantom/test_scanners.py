"""Virtual scanners: each writes a readable study that looks like its make; bright low-MI dual displays."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.pixels import pixel_array

from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.phantom import PROFILES, PhantomOptions, synthesize_case
from ceusdesk.phantom.scanner import draw_profile

BRIGHT = [name for name, p in PROFILES.items() if p.bright]


def _files(study: Path) -> list[Path]:
    return sorted(p for p in study.rglob("*") if p.is_file() and p.name != "DICOMDIR")


def _panels(ds: pydicom.Dataset, index: int) -> list[np.ndarray]:
    """Grey panels of one frame, left to right, cut at the file's own ultrasound regions."""
    grey = cv2.cvtColor(pixel_array(ds, index=index), cv2.COLOR_RGB2GRAY).astype(float)
    regions = sorted(ds.SequenceOfUltrasoundRegions, key=lambda r: r.RegionLocationMinX0)
    return [grey[r.RegionLocationMinY0:r.RegionLocationMaxY1 + 1,
                 r.RegionLocationMinX0:r.RegionLocationMaxX1 + 1] for r in regions]


def _bright_study(root: Path, scanner: str, side: str) -> tuple[dict, Path]:
    opts = PhantomOptions(panel_size=(128, 96), frames_per_clip=2, encoding="raw", scanner=scanner,
                          contrast_side=side)
    rec = synthesize_case(root, seed=41, options=opts)
    return rec, root / rec["study"]


@pytest.mark.parametrize("scanner", BRIGHT)
@pytest.mark.parametrize("side", ["left", "right"])
def test_bright_presets_outshine_the_dimmed_reference_on_either_side(tmp_path, scanner, side):
    rec, study = _bright_study(tmp_path, scanner, side)
    assert rec["contrast_panel"] == side and rec["scanner"] == scanner
    files = _files(study)
    pre = pydicom.dcmread(files[0])
    assert "ContrastBolusAgent" not in pre and len(pre.SequenceOfUltrasoundRegions) == 1  # single B panel
    c = 0 if side == "left" else 1
    for path in files[2:]:  # 1:00 onwards: the agent has arrived
        ds = pydicom.dcmread(path)
        assert ds.ManufacturerModelName == PROFILES[scanner].model
        panels = _panels(ds, 0)
        assert len(panels) == 2
        assert panels[c].mean() >= panels[1 - c].mean() + 5, path.name  # whole panels, sector and all


@pytest.mark.parametrize("side", ["left", "right"])
def test_inspect_reads_bright_dual_displays(tmp_path, side):
    rec, study = _bright_study(tmp_path, BRIGHT[0], side)
    # which side inspect calls contrast is ingest's decision (tests/ingest); here: the study reads whole
    proc = subprocess.run([sys.executable, "-m", "ceusdesk", "inspect", str(study), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert len(doc["clips"]) == len(_files(study))
    assert doc["phase_set"] == "full"
    assert all(doc["slots"][name] is not None for name in SLOT_NAMES)


def test_every_scanner_writes_a_study_that_looks_like_its_make(tmp_path):
    for name, profile in PROFILES.items():
        opts = PhantomOptions(panel_size=(128, 96), frames_per_clip=1, encoding="raw", scanner=name,
                              contrast_side="right")
        rec = synthesize_case(tmp_path / name, seed=3, options=opts)
        assert rec["scanner"] == name
        last = pydicom.dcmread(_files(tmp_path / name / rec["study"])[-1])  # 10:00, liver enhanced
        assert last.ManufacturerModelName == profile.model
        regions = sorted(last.SequenceOfUltrasoundRegions, key=lambda r: r.RegionLocationMinX0)
        w = regions[1].RegionLocationMaxX1 - regions[1].RegionLocationMinX0 + 1
        h = regions[1].RegionLocationMaxY1 - regions[1].RegionLocationMinY0 + 1
        assert (w, h) == profile.panel_size((128, 96))
        r = regions[1]
        rgb = pixel_array(last, index=0)[r.RegionLocationMinY0:r.RegionLocationMaxY1 + 1,
                                         r.RegionLocationMinX0:r.RegionLocationMaxX1 + 1].astype(float)
        red_minus_blue = rgb[..., 0].mean() - rgb[..., 2].mean()
        if profile.colour == "tint" and profile.tint == (1.0, 1.0, 1.0):
            assert abs(red_minus_blue) < 1, name  # grey contrast
        else:
            assert red_minus_blue > 5, name      # sepia, bronze or amber


def test_clinical_studies_draw_scanners_in_variety():
    rng = np.random.default_rng(0)
    drawn = [draw_profile(rng) for _ in range(400)]
    names = {p.name for p in drawn}
    assert names == set(PROFILES)
    bright = np.mean([p.bright for p in drawn])
    assert 0.2 < bright < 0.5


def test_scanner_option_is_checked():
    with pytest.raises(ValueError, match="unknown scanner"):
        PhantomOptions(scanner="no-such-scanner")
    with pytest.raises(ValueError, match="acquisition"):
        PhantomOptions(acquisition="sloppy")
    assert dataclasses.replace(PhantomOptions(), scanner="gold").scanner == "gold"
