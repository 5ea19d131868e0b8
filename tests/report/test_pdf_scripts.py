"""Patient names in Japanese, Chinese, Korean, Arabic and Hebrew print in the PDF (no ■, no .notdef)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from ceusdesk.outputs.pdf import write_report
from ceusdesk.outputs.pdftext import font_name_for, has_glyph, markup, shape_arabic, visual_order

from .test_report import pdf_text

REPO = Path(__file__).resolve().parents[2]

NAMES = {
    "ja": "ヤマダ^タロウ=山田^太郎=やまだ^たろう",
    "zh": "王^小明",
    "ko": "김^민준",
    "ar": "محمد^أحمد",
    "he": "כהן^דוד",
    "de": "Müller^Jürgen",
}


def embedded_fonts(pdf: Path) -> set[str]:
    """Base names of the fonts the PDF embeds (a FontFile2 under the descriptor)."""
    names = set()
    for page in PdfReader(str(pdf)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            for desc_font in [font, *[f.get_object() for f in font.get("/DescendantFonts", [])]]:
                desc = desc_font.get("/FontDescriptor")
                if desc is not None and "/FontFile2" in desc.get_object():
                    names.add(str(font["/BaseFont"]).split("+")[-1])
    return names


@pytest.mark.parametrize("lang", list(NAMES))
def test_every_character_of_a_name_has_a_glyph(lang):
    for ch in visual_order(NAMES[lang]):
        font = font_name_for(ch)
        assert font is None or has_glyph(font, ch), (lang, ch, font)


def test_arabic_letters_join_and_rtl_runs_read_right_to_left():
    assert shape_arabic("محمد") == "\ufee3\ufea4\ufee4\ufeaa"  # initial, medial, medial, final
    assert shape_arabic("لا") == "\ufefb"  # lam-alef ligature
    assert visual_order("name כהן^דוד, id 42") == "name דוד^ןהכ, id 42"
    assert visual_order("ID 12345") == "ID 12345"
    assert "<font" not in markup("DOE^JANE") and markup("a<b") == "a&lt;b"


def test_pdf_prints_non_latin_patient_names(tmp_path, report_input):
    report_input.patient = dict(report_input.patient, name=" / ".join(NAMES.values()))
    pdf, _ = write_report(tmp_path / "intl.pdf", report_input)
    text = pdf_text(pdf)
    for lang in ("ja", "zh", "ko"):
        for part in NAMES[lang].replace("=", "^").split("^"):
            assert part in text, lang
    assert "Müller^Jürgen" in text
    # right-to-left names are drawn in visual order: the extracted text holds their letters
    for lang in ("ar", "he"):
        letters = {c for c in visual_order(NAMES[lang]) if c != "^"}
        assert letters <= set(text), lang
    assert "■" not in text and "\ufffd" not in text
    fonts = embedded_fonts(pdf)
    assert {"NotoSansCJKjp-Regular", "NotoSansArabic-Regular", "NotoSansHebrew-Regular"} <= fonts, fonts


def test_fonts_are_package_data_and_go_into_the_bundle():
    sys.path.insert(0, str(REPO / "packaging"))
    import bundle_rules

    dests = {Path(src).name: dest for src, dest in bundle_rules.package_data(REPO)}
    for name in ("NotoSansCJKjp-Subset.ttf.xz", "NotoSansArabic-Regular.ttf", "NotoSansHebrew-Regular.ttf",
                 "NotoSans-Regular.ttf", "OFL.txt"):
        assert dests.get(name) == "ceusdesk/outputs/fonts", name
