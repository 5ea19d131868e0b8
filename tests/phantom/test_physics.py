"""The primer's physics, measured as lesion/liver intensity ratios per class and slot."""
import numpy as np
import pydicom
import pytest
from pydicom.pixels import pixel_array

from ceusdesk.base.protocol import default_protocol
from ceusdesk.phantom import LABELS, PhantomOptions, synthesize_case
from ceusdesk.phantom.cohort import roi_of
from ceusdesk.phantom.compose import Layout
from ceusdesk.phantom.params import sample_case
from ceusdesk.phantom.render import Renderer
from ceusdesk.phantom.scene import TIMER_BAND

SLOTS = [(s.name, float(s.target_s)) for s in default_protocol().contrast_slots]
PANEL = (160, 128)


def _cohort_ratios(per_class: int) -> dict[str, np.ndarray]:
    """Ratio at every contrast slot for ``per_class`` cases of each class, straight from the renderer."""
    out = {}
    for li, label in enumerate(LABELS):
        rows = []
        for i in range(per_class):
            seed = 1000 * li + i
            r = Renderer(sample_case(np.random.default_rng(seed), label=label), *PANEL, seed)
            rows.append([r.lesion_liver_ratio(t, np.random.default_rng([seed, int(t)])) for _, t in SLOTS])
        out[label] = np.array(rows)
    return out


@pytest.fixture(scope="module")
def ratios() -> dict[str, np.ndarray]:
    return _cohort_ratios(14)


def _col(name: str) -> int:
    return [n for n, _ in SLOTS].index(name)


def test_hcc_hyperenhances_in_the_arterial_slot(ratios):
    assert ratios["hcc"][:, _col("0:30")].mean() > 1.05


def test_malignant_lesions_show_a_kupffer_defect(ratios):
    k = _col("10:00")
    assert ratios["hcc"][:, k].mean() < 0.85
    assert ratios["non_hcc_malignant"][:, k].mean() < 0.6


def test_benign_brighter_than_malignant_at_10_min(ratios):
    k = _col("10:00")
    malignant = np.concatenate([ratios["hcc"][:, k], ratios["non_hcc_malignant"][:, k]])
    assert ratios["benign"][:, k].mean() > malignant.mean() + 0.15


def test_no_single_slot_separates_benign_from_malignant(ratios):
    benign = ratios["benign"]
    malignant = np.concatenate([ratios["hcc"], ratios["non_hcc_malignant"]])
    for j, (name, _) in enumerate(SLOTS):
        b, m = benign[:, j], malignant[:, j]
        # perfect separation = one class entirely above the other
        assert b.min() < m.max() and m.min() < b.max(), f"slot {name} separates the classes perfectly"
        auc = (b[:, None] > m[None, :]).mean() + 0.5 * (b[:, None] == m[None, :]).mean()
        assert auc < 0.99, f"slot {name}: AUC {auc:.3f}"


def test_roi_is_a_square_on_the_lesion_inside_the_contrast_panel():
    for seed in range(40):
        r = Renderer(sample_case(np.random.default_rng(seed)), *PANEL, seed)
        x, y, w, h = roi_of(r)
        cx, cy, rad = r.scene.lesion_px
        assert w == h and abs(w - 3.2 * rad) <= 1.0
        assert 0 <= x and x + w <= PANEL[0] and TIMER_BAND * PANEL[1] - 1 <= y and y + h <= PANEL[1]
        assert abs(x + w / 2 - cx) <= 1 and abs(y + h / 2 - cy) <= 1


def test_written_frames_keep_the_physics(tmp_path):
    """Ratios measured on decoded DICOM frames inside the record's ROI agree with the renderer's."""
    opts = PhantomOptions(panel_size=PANEL, frames_per_clip=2, encoding="raw", contrast_side="right")
    layout = Layout(*PANEL)
    x0, y0, _, _ = layout.panel_box("right")
    found = {}
    for subtype, clip_index, want in (("hcc_moderate", 1, "hyper"), ("metastasis", -1, "hypo")):
        for seed in range(30, 60):
            rec = synthesize_case(tmp_path, seed=seed, subtype=subtype, options=opts)
            if rec["subtype"] == subtype:
                break
        files = sorted((tmp_path / rec["study"]).glob("*.dcm"))
        ds = pydicom.dcmread(files[clip_index])
        n = int(ds.NumberOfFrames)
        # arterial clip: the frame nearest 30 s; 10:00 clip: the first frame
        index = n // 2 if clip_index == 1 else 0
        panel = pixel_array(ds, index=index)[y0:y0 + PANEL[1], x0:x0 + PANEL[0]].astype(float).mean(axis=2)
        x, y, w, h = rec["roi"]
        yy, xx = np.mgrid[0:PANEL[1], 0:PANEL[0]]
        d = np.hypot(xx - (x + w / 2), yy - (y + h / 2)) / (w / 3.2)
        core = panel[d < 0.6].mean()
        ring = panel[(d > 1.6) & (d < 2.6) & (panel > 20)].mean()
        found[want] = core / ring
    assert found["hyper"] > 1.1
    assert found["hypo"] < 0.7
