"""The PDF as a reading radiologist files it: header and footer on every page, the patient on page 1, a
grey box for each slot not acquired, which frame fills each slot, the class names, a reader's field."""
from __future__ import annotations

import re

from pypdf import PdfReader

from ceusdesk.outputs.pdf import write_report
from ceusdesk.outputs.wording import slot_caption

GREY_FILL = ".815686 .815686 .815686 rg"  # the placeholder's #d0d0d0


def pages(path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def many_warnings(report_input, n: int = 60) -> None:
    """Enough warnings for a second page."""
    report_input.study["warnings"] += [{"path": "", "message": f"note {i}"} for i in range(n)]


def test_every_page_has_the_header_and_footer(tmp_path, report_input):
    many_warnings(report_input)
    pdf, _ = write_report(tmp_path / "r.pdf", report_input)
    texts = pages(pdf)
    assert len(texts) >= 2
    for i, text in enumerate(texts, start=1):
        assert f"page {i} / {len(texts)}" in text
        assert "DOE^JANE" in text and "exam date 2024-05-17" in text
        assert "research use only" in text.lower()
    first = texts[0]
    assert "Birth date: 19610203" in first and "Sex: F" in first and "Patient ID: PID-483920" in first


def test_a_deidentified_report_says_so_on_every_page(tmp_path, report_input):
    many_warnings(report_input)
    pdf, _ = write_report(tmp_path / "anon.pdf", report_input, deidentify=True)
    for text in pages(pdf):
        assert "De-identified report" in text and "DOE^JANE" not in text and "2024-05-17" not in text


def test_a_slot_not_acquired_gets_a_grey_box_the_size_of_a_thumbnail(tmp_path, report_input):
    report_input.study["slots"]["6:00"] = None
    report_input.panels["6:00"] = None
    pdf, _ = write_report(tmp_path / "gap.pdf", report_input)
    assert "6:00 not acquired" in pages(pdf)[0].replace("  ", " ")
    content = PdfReader(str(pdf)).pages[0].get_contents().get_data().decode("latin-1")
    assert GREY_FILL in content
    after = content[content.index(GREY_FILL):]
    w, h = (abs(float(v)) for v in re.search(r"[\d.-]+ [\d.-]+ ([\d.-]+) ([\d.-]+) re f", after).groups())
    thumb_w = 52 * 72 / 25.4  # 52 mm, as the thumbnails
    assert abs(w - thumb_w) < 0.5 and abs(h - thumb_w * 120 / 150) < 0.5  # the panels' 150×120 shape
    report_input.panels["6:00"] = report_input.panels["5:00"]
    report_input.study["slots"]["6:00"] = dict(report_input.study["slots"]["5:00"])
    pdf, _ = write_report(tmp_path / "full.pdf", report_input)
    assert GREY_FILL not in PdfReader(str(pdf)).pages[0].get_contents().get_data().decode("latin-1")


def test_captions_say_which_frame_and_names_are_the_apps(tmp_path, report_input):
    report_input.study["slots"]["0:30"]["offset_s"] = -9.2
    pdf, _ = write_report(tmp_path / "r.pdf", report_input)
    text = "\n".join(pages(pdf))
    assert "IM000001 · f2/4 · 0:31 (-9 s)" in text
    assert "HCC" in text and "non-HCC malignant" in text and "non hcc" not in text
    assert "malignant = HCC 0.61 + non-HCC malignant 0.27 = 0.88 >= 0.50" in text
    assert "threshold 0.50 (band +-0.05)" in text  # the benign-vs-malignant bar's tick and band
    assert "sensitivity to masking" in text and "not a clinical finding" in text
    assert "Reader (name)" in text and "Signature" in text


def test_slot_caption_format():
    assert slot_caption("/x/US0002.dcm", 6, 7, 51.0, -9.0) == "US0002 · f7/7 · 0:51 (\u22129 s)"
    assert slot_caption("US0001", 0, 4, -50.0, None) == "US0001 · f1/4 · \u22120:50"  # B: no target
    assert slot_caption("US0003", 0, 4, 59.7, -0.3, ascii_only=True) == "US0003 · f1/4 · 0:59 (+0 s)"
    assert slot_caption(None, None, None, None, None) == "not acquired"
