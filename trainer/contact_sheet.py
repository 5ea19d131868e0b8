"""Contact sheets of the phantom: per subtype, lesions across the nine slots of the protocol.

``python -m trainer.contact_sheet --out DIR [--cases-per-subtype 3] [--seed 0]`` writes
``DIR/contact_<subtype>.png`` (one row per case) and ``DIR/contact_sheet.png`` (one row per subtype).
Tiles are crops of twice the lesion ROI, rendered directly (no DICOM), contrast tiles tinted as shown.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from ceusdesk.base.protocol import default_protocol
from ceusdesk.phantom import SUBTYPES
from ceusdesk.phantom.cohort import roi_of
from ceusdesk.phantom.compose import CEUS_TINT
from ceusdesk.phantom.params import sample_case
from ceusdesk.phantom.render import Renderer

log = logging.getLogger(__name__)
TILE = 112
LABEL_W = 150
HEADER = 22


def _tile(panel: np.ndarray, roi: list[int], tint: bool) -> np.ndarray:
    x, y, w, _ = roi
    side = max(2 * w, int(0.45 * panel.shape[0])) // 2 * 2  # small lesions keep some context
    cx, cy = x + w // 2, y + w // 2
    pad = np.pad(panel, side, mode="constant")
    crop = pad[cy - side // 2 + side:cy + side // 2 + side, cx - side // 2 + side:cx + side // 2 + side]
    crop = cv2.resize(crop, (TILE, TILE), interpolation=cv2.INTER_AREA)
    rgb = crop[..., None] * (CEUS_TINT if tint else np.ones(3, np.float32))
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def case_row(seed: int, subtype: str, panel: tuple[int, int] = (320, 256)) -> np.ndarray:
    """Nine tiles (B, 0:30 … 10:00) of one case, side by side."""
    r = Renderer(sample_case(np.random.default_rng([seed, 0]), subtype=subtype), *panel, seed)
    roi = roi_of(r)
    tiles = []
    for slot in default_protocol().slots:
        if slot.target_s is None:
            tiles.append(_tile(r.bmode_panel(), roi, tint=False))
        else:
            img = r.contrast_panel(float(slot.target_s), np.random.default_rng([seed, int(slot.target_s)]))
            tiles.append(_tile(img, roi, tint=True))
    return np.hstack(tiles)


def _text(img: np.ndarray, text: str, org: tuple[int, int]) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (230, 230, 230), 1, cv2.LINE_AA)


def sheet(rows: list[tuple[str, np.ndarray]]) -> np.ndarray:
    width = LABEL_W + rows[0][1].shape[1]
    out = np.zeros((HEADER + TILE * len(rows), width, 3), np.uint8)
    for j, slot in enumerate(default_protocol().slot_names):
        _text(out, slot, (LABEL_W + j * TILE + 4, 16))
    for i, (label, row) in enumerate(rows):
        y = HEADER + i * TILE
        out[y:y + TILE, LABEL_W:] = row
        _text(out, label, (4, y + TILE // 2))
    return out


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer.contact_sheet", description=__doc__)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cases-per-subtype", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    overview = []
    for k, subtype in enumerate(SUBTYPES):
        rows = [(f"{subtype} #{i + 1}", case_row(args.seed * 1000 + 100 * k + i, subtype))
                for i in range(args.cases_per_subtype)]
        cv2.imwrite(str(args.out / f"contact_{subtype}.png"), cv2.cvtColor(sheet(rows), cv2.COLOR_RGB2BGR))
        overview.append((subtype, rows[0][1]))
    cv2.imwrite(str(args.out / "contact_sheet.png"), cv2.cvtColor(sheet(overview), cv2.COLOR_RGB2BGR))
    log.info("contact sheets in %s", args.out)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    sys.exit(main(get_args_parser().parse_args()))
