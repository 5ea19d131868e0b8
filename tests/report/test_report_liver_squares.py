"""The PDF's slot thumbnails draw the further squares the liver's level was read over (``liver_reference``
after the liver ROI) finer and dimmer than the liver ROI, on the reference slot only, and only when the
liver ROI was placed automatically (one the user set is read alone) — the app's rule."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from pypdf import PdfReader

from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.outputs import pdf as report
from ceusdesk.outputs.pdf import roi_thumbnail, write_report

from .test_report_evidence import evidence

LIVER = [100, 30, 40, 40]
FURTHER = [[20, 60, 36, 36], [60, 70, 36, 36]]


def with_liver(report_input, liver_reference: list[list[int]]):
    inp = copy.deepcopy(report_input)
    ev = evidence()
    contrast = [s for s in SLOT_NAMES if s != "B"]
    # untracked: every contrast slot has the same liver ROI, so only the reference slot may get the squares
    ev.update(liver_roi=LIVER, liver_rois={s: LIVER for s in contrast}, liver_reference=liver_reference)
    inp.result["evidence"] = ev
    return inp


@pytest.fixture
def drawn(monkeypatch) -> list[list]:
    """The further squares each PDF thumbnail was drawn with, in the order drawn."""
    calls: list[list] = []
    real = report.roi_thumbnail

    def spy(panel, roi, max_side=360, liver=None, liver_extra=()):
        calls.append([tuple(r) for r in liver_extra])
        return real(panel, roi, max_side, liver=liver, liver_extra=liver_extra)

    monkeypatch.setattr(report, "roi_thumbnail", spy)
    return calls


def slots_drawn(report_input, calls: list[list]) -> dict[str, list]:
    """The spy's calls named by slot: thumbnails are drawn in slot order, missing panels skipped."""
    names = [s for s in SLOT_NAMES if report_input.panels.get(s) is not None]
    return dict(zip(names, calls, strict=True))


def test_an_automatic_liver_roi_gets_its_further_squares_on_the_reference_slot_only(
        tmp_path, report_input, drawn):
    inp = with_liver(report_input, [LIVER, *FURTHER])
    pdf, _ = write_report(tmp_path / "r.pdf", inp)
    by_slot = slots_drawn(inp, drawn)
    assert by_slot["0:30"] == [tuple(r) for r in FURTHER]
    assert all(not squares for slot, squares in by_slot.items() if slot != "0:30")
    text = " ".join((PdfReader(str(pdf)).pages[0].extract_text() or "").split())
    assert "further liver squares read finer and dimmer" in text


def test_a_liver_roi_the_user_set_is_drawn_alone(tmp_path, report_input, drawn):
    inp = with_liver(report_input, [LIVER])  # set by the user: liver_reference == [liver_roi]
    pdf, _ = write_report(tmp_path / "r.pdf", inp)
    assert drawn and all(not squares for squares in drawn)
    assert "further liver squares" not in (PdfReader(str(pdf)).pages[0].extract_text() or "")


def test_squares_that_do_not_start_at_the_reference_liver_roi_are_not_drawn(tmp_path, report_input, drawn):
    inp = with_liver(report_input, [[0, 0, 40, 40], *FURTHER])  # placed on other pixels than 0:30's
    write_report(tmp_path / "r.pdf", inp)
    assert drawn and all(not squares for squares in drawn)


def test_the_further_squares_are_finer_and_dimmer_than_the_liver_roi():
    # a scanner-sized panel: the thumbnail shrinks it, so the liver ROI's line is several pixels wide
    panel = np.full((480, 640, 3), 40, np.uint8)
    liver, extra = (380, 60, 120, 120), (80, 260, 120, 120)
    alone = np.asarray(roi_thumbnail(panel, None, liver=liver)).astype(int)
    both = np.asarray(roi_thumbnail(panel, None, liver=liver, liver_extra=[extra])).astype(int)
    s = alone.shape[1] / panel.shape[1]

    def region(a: np.ndarray, r: tuple[int, int, int, int]) -> np.ndarray:
        x, y, w, h = (round(v * s) for v in r)
        return a[max(0, y - 3):y + h + 3, max(0, x - 3):x + w + 3]

    greener_extra = region(both, extra)[..., 1] - region(alone, extra)[..., 1]
    greener_liver = region(alone, liver)[..., 1] - 40
    assert (greener_extra > 10).sum() > 0  # drawn
    np.testing.assert_array_equal(region(both, liver), region(alone, liver))  # the liver ROI as before
    assert greener_extra.max() < 0.75 * greener_liver.max()  # dimmer
    assert (greener_extra > 10).sum() < 0.6 * (greener_liver > 10).sum()  # finer: fewer, thinner dashes
