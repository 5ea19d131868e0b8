"""Rebuild the report fonts in ceusdesk/outputs/fonts/ from the Noto fonts (SIL Open Font License 1.1).

A maintainer's tool, outside the package so the bundle never pulls in fontTools. The sources are Debian's
``fonts-noto-cjk`` (NotoSansCJK-Regular.ttc, face "Noto Sans CJK JP") and ``fonts-noto-core``
(NotoSans, NotoSansArabic, NotoSansHebrew)::

    apt-get download fonts-noto-cjk fonts-noto-core && for f in *.deb; do dpkg-deb -x "$f" x; done
    python packaging/report_fonts.py x/usr/share/fonts

reportlab embeds only TrueType outlines, so the CJK font (CFF outlines) is converted to quadratic
TrueType outlines; every font is cut down to the blocks patient names use, with its layout tables dropped
(reportlab does not apply them: Arabic joining uses the presentation forms, see ``ceusdesk.outputs.pdftext``).
"""
from __future__ import annotations

import io
import lzma
import sys
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

from ceusdesk.outputs.pdftext import ARABIC, CJK, HEBREW, LATIN

HERE = Path(__file__).resolve().parents[1] / "ceusdesk" / "outputs" / "fonts"

ASCII = [(0x20, 0x7E)]  # spaces and digits between the letters of a run stay in the same font


def _codepoints(ranges: list[tuple[int, int]]) -> list[int]:
    return [c for a, b in ranges for c in range(a, b + 1)]


def _subset(font: TTFont, ranges: list[tuple[int, int]]) -> TTFont:
    opts = subset.Options()
    opts.layout_features = []  # reportlab applies none
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG"]
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=_codepoints(ranges))
    sub.subset(font)
    return font


def cff_to_glyf(font: TTFont, max_err: float = 1.0) -> TTFont:
    """Replace CFF outlines by quadratic TrueType ones (what reportlab can embed)."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, max_err, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    del font["CFF "]
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["head"].indexToLocFormat = 0
    font["post"].formatType = 3.0  # no glyph names: smaller, and reportlab needs none
    font.sfntVersion = "\x00\x01\x00\x00"
    return font


def main(src: Path) -> None:
    cjk = TTCollection(str(src / "opentype/noto/NotoSansCJK-Regular.ttc")).fonts[0]  # the JP face
    buf = io.BytesIO()
    cff_to_glyf(_subset(cjk, CJK + ASCII)).save(buf)
    (HERE / "NotoSansCJKjp-Subset.ttf.xz").write_bytes(lzma.compress(buf.getvalue(), preset=9))  # 11 → 5 MB
    for name, ranges in (("NotoSans-Regular", LATIN + ASCII), ("NotoSansArabic-Regular", ARABIC + ASCII),
                         ("NotoSansHebrew-Regular", HEBREW + ASCII)):
        font = TTFont(str(src / f"truetype/noto/{name}.ttf"))
        _subset(font, ranges).save(HERE / f"{name}.ttf")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
