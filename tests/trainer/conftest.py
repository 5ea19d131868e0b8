"""A fake cohort for trainer tests: cases.jsonl + study folders + ready preprocessing-cache entries.

The cache entries are keyed exactly as trainer.cache keys real studies, so fit/evaluate run on it
without DICOM; the tensors carry a class-dependent enhancement pattern so there is something to learn.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.preprocess import InputSpec
from trainer import cache
from trainer.data import CACHE_DIRNAME, CLASSES

# The test machines' few cores are shared: several OpenMP threads per process spin against each other.
torch.set_num_threads(1)

# per-class lesion intensity over the nine slots (B, 0:30, 1:00, 2:00 … 6:00, 10:00), 0..1
PATTERNS = {
    "benign": [0.6, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.6],
    "hcc": [0.4, 0.9, 0.6, 0.4, 0.3, 0.3, 0.3, 0.3, 0.2],
    "non_hcc_malignant": [0.3, 0.6, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05],
}


def fake_case(
    label: str, size: int, rng: np.random.Generator, spec: InputSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, mask, context): the lesion disk centred in a context crop 3x the ROI's side (as trainer.cache
    stores it); the model input is the context's central third, as the app would crop it."""
    big = int(round(cache.CONTEXT_FACTOR * size))
    yy, xx = np.mgrid[:big, :big]
    disk = ((yy - big / 2) ** 2 + (xx - big / 2) ** 2) < (size / 4) ** 2
    ctx = np.empty((9, big, big), dtype=np.float32)
    for i, level in enumerate(PATTERNS[label]):
        img = 0.5 + 0.05 * rng.standard_normal((big, big))
        img[disk] = level + 0.05 * rng.standard_normal(disk.sum())
        ctx[i] = np.clip(img, 0, 1)
    mask = np.ones(9, dtype=np.float32)
    if rng.random() < 0.3:
        mask[-1] = 0.0  # 10:00 missing: an early-set case
    ctx = np.round(ctx * 255) / 255 * mask[:, None, None]
    lo = (big - size) // 2
    pix = ctx[:, lo:lo + size, lo:lo + size]
    images = ((pix - spec.mean) / spec.std * mask[:, None, None]).astype(np.float32)
    return images, mask, np.round(ctx * 255).astype(np.uint8)


def fake_evidence(label: str, mask: np.ndarray, protocol) -> dict:
    """A measured-evidence record as trainer.cache keeps it: one lesion/liver point per present contrast
    slot (the pattern against a liver at 0.5), washout where the ratio ends below 0.8."""
    points = [{"slot": s.name, "t_s": float(s.target_s), "ratio": round(level / 0.5, 5), "n": 4}
              for s, level, m in zip(protocol.slots, PATTERNS[label], mask, strict=True)
              if m > 0 and s.kind == "contrast"]
    last = points[-1]["ratio"]
    return {"points": points, "washout_onset_s": 100.0 if last < 0.8 else None,
            "kupffer_ratio": last if mask[-1] > 0 else None,
            "kupffer_defect": bool(last < 0.8) if mask[-1] > 0 else None, "peak_ratio": points[0]["ratio"],
            "aphe": points[0]["ratio"] >= 1.25, "per_clip": 8, "max_arterial": 30, "error": None}


def make_fake_cohort(root: Path, n: int = 24, size: int = 32, seed: int = 0, with_cache: bool = True) -> Path:
    spec, protocol = InputSpec(size=size), default_protocol()
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n):
        label = CLASSES[i % 3]
        study = root / "studies" / f"case{i:03d}"
        study.mkdir(parents=True, exist_ok=True)
        (study / "IM000000").write_bytes(b"placeholder")
        rec = {
            "case_id": f"c{i:03d}",
            "study": f"studies/case{i:03d}",
            "label": label,
            "subtype": label,
            "roi": [10, 10, 20, 20],
            "washout_score": float(rng.integers(1, 6)) if label != "benign" else float(rng.integers(0, 4)),
            "patient": f"p{i // 2:03d}",
            "source": "phantom",
        }
        lines.append(json.dumps(rec))
        if with_cache:
            images, mask, context = fake_case(label, size, rng, spec)
            scale = np.full(9, size / context.shape[-1], dtype=np.float32)
            cache.write_entry(
                cache.cache_path(root / CACHE_DIRNAME, root, rec, spec, protocol), images, mask, [],
                context=context, ctx_scale=scale, evidence=fake_evidence(label, mask, protocol),
            )
    (root / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def fake_cohort(tmp_path_factory) -> Path:
    return make_fake_cohort(tmp_path_factory.mktemp("cohort"))


@pytest.fixture(scope="session")
def phantom(tmp_path_factory) -> Path:
    """Three small real phantom studies (DICOM), as `python -m trainer synth` writes them."""
    out = tmp_path_factory.mktemp("phantom")
    subprocess.run([sys.executable, "-m", "trainer", "synth", "--out", str(out), "--cases", "3",
                    "--seed", "5", "--size", "160x128", "--frames", "2", "--workers", "1", "--no-progress"],
                   check=True, capture_output=True, timeout=300)
    return out
