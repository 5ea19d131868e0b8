"""What kind of study the phantom writes (sizes, clip lengths, protocol deviations, file layout)."""
from __future__ import annotations

from dataclasses import dataclass

from ceusdesk.phantom.scanner import PROFILES

COMPACT_PANEL = (320, 256)  # (width, height) of each panel; a frame holds two plus margins and a banner
COMPACT_FRAMES = 4          # frames per short clip; the arterial clip gets 2n - 1
ACQUISITIONS = ("standard", "clinical")


@dataclass(frozen=True)
class PhantomOptions:
    """Options of :func:`ceusdesk.phantom.synthesize_case`.

    realistic: scanner-length clips (10–15 s at 10–15 fps, a 45 s arterial sweep) for benchmarks and
        the demo; otherwise compact clips of ``frames_per_clip`` frames (tests, training).
    frames_per_clip: frames of each short clip (compact default 4; realistic default: duration × fps).
    panel_size: (width, height) of each display panel in pixels.
    early_only: stop after the 2:00 clip (sometimes a 3:00 clip follows), as in a short examination.
    missing_slots: protocol slot names whose clips are not recorded (e.g. ``("3:00", "10:00")``).
    contrast_side: "left" | "right" | None (drawn per case).
    dicomdir: write a USB-style tree (DICOMDIR + PT000000/ST000000/SE000000/IM000000 files).
    video: write each clip as an MP4 file (timing only in the file name and the burned-in timer)
        instead of DICOM.
    write_contrast_start: fill Contrast/Bolus Start Time (0018,1042) on the contrast clips.
    encoding: "jpeg" | "rle" | "raw" for every clip, or None: JPEG with one RLE or uncompressed clip in
        most studies (keeps compact studies at a few MB).
    acquisition: "standard" — one scanner (``classic``), clips within ±4 s of the minute, every slot
        recorded (tests, demo, self-test); "clinical" — a scanner drawn per patient, clip timing as
        sonographers hit it, some studies without some 3–6 min clips, and in cohorts some patients with
        two lesions (training and test cohorts; ``python -m trainer synth`` uses it by default).
    scanner: a profile name from :data:`ceusdesk.phantom.scanner.PROFILES` for every study, or None
        (standard: ``classic``; clinical: drawn).
    """

    realistic: bool = False
    frames_per_clip: int | None = None
    panel_size: tuple[int, int] = COMPACT_PANEL
    early_only: bool = False
    missing_slots: tuple[str, ...] = ()
    contrast_side: str | None = None
    dicomdir: bool = False
    video: bool = False
    write_contrast_start: bool = True
    encoding: str | None = None
    acquisition: str = "standard"
    scanner: str | None = None

    @property
    def clinical(self) -> bool:
        return self.acquisition == "clinical"

    def __post_init__(self) -> None:
        w, h = self.panel_size
        if w < 64 or h < 48:
            raise ValueError(f"panel_size {self.panel_size} is too small (at least 64x48)")
        if self.contrast_side not in (None, "left", "right"):
            raise ValueError(f"contrast_side must be 'left', 'right' or None, not {self.contrast_side!r}")
        if self.encoding not in (None, "jpeg", "rle", "raw"):
            raise ValueError(f"encoding must be 'jpeg', 'rle', 'raw' or None, not {self.encoding!r}")
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(f"acquisition must be one of {', '.join(ACQUISITIONS)}, "
                             f"not {self.acquisition!r}")
        if self.scanner is not None and self.scanner not in PROFILES:
            raise ValueError(f"unknown scanner {self.scanner!r}; expected one of {', '.join(PROFILES)}")
        if self.frames_per_clip is not None and self.frames_per_clip < 1:
            raise ValueError("frames_per_clip must be at least 1")
