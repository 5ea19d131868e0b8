"""Bounds on what one input file may claim, so a bad header costs a warning, not the machine.

Each limit is checked on the header before anything is allocated or decoded; a file over a limit is
reported (one warning naming it) and the rest of the study is read as usual. See docs/ingest.md.
"""
from __future__ import annotations

from datetime import datetime

from ceusdesk.base.errors import UnreadableInput

MAX_FRAME_PIXELS = 4096 * 4096
"""Largest frame read (rows × columns): 16.8 megapixels, above 4K UHD (3840 × 2160, the largest
ultrasound display exported today). One such frame decodes to 50 MB of RGB; a 20000² "frame" would
take 1.2 GB, so it is refused before decoding."""

MAX_INFLATED_BYTES = 512 * 1024 * 1024
"""Largest dataset a Deflated Explicit VR Little Endian file may inflate to (pydicom inflates it whole in
memory). 512 MiB holds ~580 uncompressed 640 × 480 RGB frames; a 1.9 MB file that inflates to 4 GB is a
zip bomb, refused after at most this much work and a few MB of memory."""

MAX_CLIP_SECONDS = 3600.0
"""Longest clip whose frame times are believed: per-frame times that put the last frame more than an
hour after the first (Frame Time 1e300, broken vectors) are ignored with a warning."""

YEARS = (1900, 2199)
"""Acquisition and contrast dates outside these years are treated as missing (warned): year 1 or 9999
is a scanner or anonymiser fault, and date arithmetic near the ends of the calendar overflows."""

BITS_ALLOCATED = (8, 16)
"""Sample sizes decoded (design.md). 1-bit (overlays) and 32/64-bit samples are refused: shown as
8-bit they would be black frames that a model would classify."""

SAMPLE_FORMATS = {
    1: ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR"),
    3: ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_PARTIAL_422", "YBR_PARTIAL_420", "YBR_ICT", "YBR_RCT"),
}
"""Samples per Pixel → the photometric interpretations decoded to a display image."""


class Undecodable(UnreadableInput, ValueError):
    """An image whose frames cannot be shown: unsupported sample format, or over a size limit."""


def plausible(when: datetime | None) -> bool:
    return when is not None and YEARS[0] <= when.year <= YEARS[1]


def sample_format_problem(bits: int, stored: int, spp: int, photometric: str) -> str | None:
    """Why frames of this format cannot be shown as 8-bit display images (None when they can)."""
    if bits not in BITS_ALLOCATED:
        return f"{bits}-bit samples (Bits Allocated) are not supported; only 8 or 16"
    if not 1 <= stored <= bits:
        return f"Bits Stored {stored} does not fit Bits Allocated {bits}"
    formats = SAMPLE_FORMATS.get(spp)
    if formats is None:
        return f"{spp} samples per pixel ({photometric or 'no photometric interpretation'}) are not supported"
    if photometric not in formats:
        return (f"photometric interpretation {photometric or '(none)'!r} with {spp} samples per pixel "
                "is not supported")
    return None


def frame_size_problem(rows: int, cols: int) -> str | None:
    if rows * cols > MAX_FRAME_PIXELS:
        return (f"frame {cols}x{rows} is larger than the {MAX_FRAME_PIXELS / 1e6:.1f}-megapixel limit "
                "(MAX_FRAME_PIXELS); not read")
    return None
