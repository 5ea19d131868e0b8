"""Text of any script in the PDF report: Japanese, Chinese, Korean, Arabic and Hebrew names print.

reportlab's built-in Helvetica covers Windows-1252 only (anything else prints as ■). :func:`markup`
turns a string into Paragraph markup in which every run that Helvetica cannot show is set in an embedded
Noto font from ``ceusdesk/outputs/fonts`` (SIL OFL 1.1; reportlab embeds only the glyphs used).

reportlab applies neither the Unicode bidi algorithm nor Arabic joining without optional packages
(rlbidi, uharfbuzz) that the app does not ship, so this module does the part names need: Arabic letters
take their joined forms (Arabic Presentation Forms-B, with the lam-alef ligatures), and each right-to-left
run is laid out right to left inside the left-to-right line (digits keep their order). Limits: no
diacritic positioning beyond the font's defaults, no nested embeddings, no Indic shaping.
"""
from __future__ import annotations

import functools
import io
import logging
import lzma
import re
import unicodedata
from importlib import resources
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

# font name → (file in ceusdesk/outputs/fonts, the blocks it is used for); the CJK file is xz-compressed
LATIN = [(0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x1E00, 0x1EFF), (0x2000, 0x206F),
         (0x20A0, 0x20BF), (0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x25A0, 0x25FF)]
CJK = [(0x3000, 0x30FF), (0x31F0, 0x31FF), (0x3130, 0x318F), (0x1100, 0x11FF), (0x3400, 0x4DBF),
       (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFF00, 0xFFEF)]
ARABIC = [(0x600, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)]
HEBREW = [(0x590, 0x5FF), (0xFB1D, 0xFB4F)]
FONTS: dict[str, tuple[str, list[tuple[int, int]]]] = {
    "CeusdeskHebrew": ("NotoSansHebrew-Regular.ttf", HEBREW),
    "CeusdeskArabic": ("NotoSansArabic-Regular.ttf", ARABIC),
    "CeusdeskCJK": ("NotoSansCJKjp-Subset.ttf.xz", CJK),
    "CeusdeskSans": ("NotoSans-Regular.ttf", LATIN),
}
RTL = HEBREW + ARABIC


def _in(cp: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= cp <= b for a, b in ranges)


def _base_font_has(ch: str) -> bool:
    """Helvetica (WinAnsi encoding) shows the character."""
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return ch.isprintable() or ch in "\t\n"


def font_name_for(ch: str) -> str | None:
    """The embedded font for ``ch`` (None: the base font shows it)."""
    if _base_font_has(ch):
        return None
    cp = ord(ch)
    for name, (_file, ranges) in FONTS.items():
        if _in(cp, ranges):
            return name
    return "CeusdeskSans"


@functools.cache
def register(name: str) -> str:
    """Register font ``name`` with reportlab (once; the CJK font only when a report needs it)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    file = FONTS[name][0]
    data = resources.files("ceusdesk.outputs").joinpath("fonts", file).read_bytes()
    if file.endswith(".xz"):
        data = lzma.decompress(data)
    pdfmetrics.registerFont(TTFont(name, io.BytesIO(data)))
    return name


def has_glyph(name: str, ch: str) -> bool:
    """Whether the font's own character map holds ``ch`` (not .notdef)."""
    from reportlab.pdfbase import pdfmetrics

    register(name)
    return ord(ch) in pdfmetrics.getFont(name).face.charToGlyph


# ---------------------------------------------------------------- Arabic joining

@functools.cache
def _arabic_forms() -> tuple[dict[int, dict[str, int]], dict[tuple[int, int], dict[str, int]]]:
    """base letter → {isolated, final, initial, medial: presentation form}; (lam, alef) → ligature forms,
    read from the Unicode character database's decompositions of Presentation Forms-B."""
    forms: dict[int, dict[str, int]] = {}
    ligatures: dict[tuple[int, int], dict[str, int]] = {}
    for cp in range(0xFE70, 0xFEFD):
        d = unicodedata.decomposition(chr(cp)).split()
        if len(d) < 2 or not d[0].startswith("<"):
            continue
        form, bases = d[0].strip("<>"), [int(x, 16) for x in d[1:]]
        if len(bases) == 1:
            forms.setdefault(bases[0], {})[form] = cp
        elif len(bases) == 2 and bases[0] == 0x644:
            ligatures.setdefault((bases[0], bases[1]), {})[form] = cp
    return forms, ligatures


def _joins_next(cp: int) -> bool:
    """Dual-joining: the letter connects to the one after it (it has an initial form), or tatweel."""
    return cp == 0x640 or "initial" in _arabic_forms()[0].get(cp, {})


def _joins_prev(cp: int) -> bool:
    return cp == 0x640 or "final" in _arabic_forms()[0].get(cp, {})


def shape_arabic(text: str) -> str:
    """Arabic letters in their joined presentation forms (logical order kept)."""
    forms, ligatures = _arabic_forms()
    cps = [ord(c) for c in text]
    transparent = [unicodedata.category(c) == "Mn" for c in text]

    def neighbour(i: int, step: int) -> int | None:
        j = i + step
        while 0 <= j < len(cps) and transparent[j]:
            j += step
        return cps[j] if 0 <= j < len(cps) else None

    out: list[str] = []
    skip = -1
    for i, cp in enumerate(cps):
        if i == skip:
            continue
        prev, nxt = neighbour(i, -1), neighbour(i, 1)
        joined_before = prev is not None and _joins_next(prev) and _joins_prev(cp)
        if cp == 0x644 and nxt is not None and (0x644, nxt) in ligatures:
            lig = ligatures[(0x644, nxt)]
            out.append(chr(lig["final" if joined_before and "final" in lig else "isolated"]))
            j = i + 1
            while transparent[j]:
                out.append(text[j])
                j += 1
            skip = j
            continue
        if cp not in forms:
            out.append(text[i])
            continue
        joined_after = nxt is not None and _joins_next(cp) and _joins_prev(nxt)
        form = {(False, False): "isolated", (True, False): "final", (False, True): "initial",
                (True, True): "medial"}[(joined_before, joined_after)]
        f = forms[cp]
        out.append(chr(f.get(form) or f.get("final" if joined_before else "isolated") or cp))
    return "".join(out)


# ---------------------------------------------------------------- right-to-left runs

_MIRROR = str.maketrans("()[]{}<>", ")(][}{><")
_RTL_CLASS = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in RTL)
# a run starts and ends with a right-to-left letter; spaces, digits and name punctuation may sit inside
_RTL_RUN = re.compile(f"[{_RTL_CLASS}](?:[{_RTL_CLASS}0-9 ^.,'()\\-]*[{_RTL_CLASS}])?")


def _visual(run: str) -> str:
    """A right-to-left run in the order it is drawn: characters reversed, digit groups kept, combining
    marks kept after their letter, brackets mirrored."""
    tokens = re.findall(r"[0-9]+|.[\u064b-\u065f\u0670\u0591-\u05c7]*", run, flags=re.S)
    return "".join(reversed(tokens)).translate(_MIRROR)


def visual_order(text: str) -> str:
    """``text`` with Arabic joined and every right-to-left run reversed for a left-to-right line."""
    if not any(_in(ord(c), RTL) for c in text):
        return text
    return _RTL_RUN.sub(lambda m: _visual(shape_arabic(m.group(0))), text)


# ---------------------------------------------------------------- Paragraph markup

def markup(text: object) -> str:
    """XML-escaped Paragraph markup of ``text``; runs Helvetica lacks are set in an embedded font."""
    s = visual_order(str(text))
    out: list[str] = []
    run, font = "", None
    for ch in s:
        f = font_name_for(ch)
        if f != font and run:
            out.append(_wrap(run, font))
            run = ""
        font = f
        run += ch
    if run:
        out.append(_wrap(run, font))
    return "".join(out)


def _wrap(run: str, font: str | None) -> str:
    if font is None:
        return escape(run)
    register(font)
    missing = [c for c in run if not has_glyph(font, c) and not c.isspace()]
    if missing:
        log.warning("the report font lacks %d character(s) (e.g. U+%04X): printed as a box",
                    len(missing), ord(missing[0]))
    return f'<font name="{font}">{escape(run)}</font>'
