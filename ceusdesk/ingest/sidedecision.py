"""Which side of the dual displays is contrast: several physical cues, weighed; unsure when in doubt.

:func:`decide_contrast_side` picks the few frames each cue needs (about a dozen per study, decoded one
at a time through the :class:`~.layout.FrameSampler`), runs the cues of :mod:`.sidecues` and combines
them. The call is ``sure`` only when physical evidence clearly supports one side and nothing notable
speaks against it (the rule sits beside the constants below); otherwise the CLI refuses to analyze
(exit 6) and the app asks.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from ceusdesk.ingest import sidecues as cues
from ceusdesk.ingest.layout import ClipLayout, FrameSampler, sample_indices
from ceusdesk.ingest.records import Clip
from ceusdesk.ingest.sidecues import Cue

# how much each cue counts; the three physical cues decide, the display convention and the old rule help
WEIGHTS = {"wash_in": 1.0, "bmode_match": 1.0, "decorrelation": 1.0, "display_tint": 0.5,
           "brightness_change": 0.3}
PHYSICAL = ("wash_in", "bmode_match", "decorrelation")
# sure = all of: weighted support for the side >= SURE_SUPPORT; physical cues alone give it
# >= MIN_PHYSICAL; no physical cue favours the other side with strength >= PHYSICAL_DISSENT; the weighted
# support for the other side is at most MAX_OPPOSITION + OPPOSITION_SHARE x the support (a display
# convention may disagree with several strong physical cues, not with one weak one)
SURE_SUPPORT = 0.8
MIN_PHYSICAL = 0.6
PHYSICAL_DISSENT = 0.2
MAX_OPPOSITION = 0.15
OPPOSITION_SHARE = 0.25
WASH_IN_FRAMES = 8
BRIGHTNESS_FRAMES = 3  # per dual clip
DECORR_CLIPS = 3


@dataclass
class SideDecision:
    side: str  # "left" | "right"
    sure: bool
    cues: list[Cue] = field(default_factory=list)
    reason: str = ""  # why it is unsure (empty when sure)

    def evidence(self) -> list[dict[str, object]]:
        return [c.to_json() for c in self.cues]


def combine(found: Sequence[Cue]) -> SideDecision:
    """Weigh the cues: the side with more weighted strength; sure per the rule beside the constants."""
    support = {"left": 0.0, "right": 0.0}
    physical = {"left": 0.0, "right": 0.0}
    for c in found:
        if c.favours in support:
            support[c.favours] += WEIGHTS.get(c.cue, 0.0) * c.strength
            if c.cue in PHYSICAL:
                physical[c.favours] += c.strength
    side = "left" if support["left"] > support["right"] else "right"
    other = "right" if side == "left" else "left"
    dissent = [c.cue for c in found
               if c.cue in PHYSICAL and c.favours == other and c.strength >= PHYSICAL_DISSENT]
    against = [c.cue for c in found if c.favours == other and c.strength > 0]
    cues_ = list(found)
    if support[side] == 0.0:
        return SideDecision(side, False, cues_, "no cue tells the panels apart")
    if dissent or support[other] > MAX_OPPOSITION + OPPOSITION_SHARE * support[side]:
        return SideDecision(side, False, cues_, f"cues disagree: {', '.join(dissent or against)} "
                                                f"favour the {other} panel")
    if support[side] < SURE_SUPPORT or physical[side] < MIN_PHYSICAL:
        return SideDecision(side, False, cues_, f"the evidence for the {side} panel is weak")
    return SideDecision(side, True, cues_, "")


def decide_contrast_side(clips: Sequence[tuple[Clip, ClipLayout]], sampler: FrameSampler,
                         injection: datetime | None = None) -> SideDecision:
    """Decide the contrast side of the study's dual displays.

    Parameters
    ----------
    clips
        The study's clips with their layouts (single-panel clips too: a pre-injection one is a cue).
    sampler
        Decodes the frames (a few per clip).
    injection
        Injection time when already known (user or Contrast/Bolus Start Time): helps find the clip that
        shows the wash-in and the B-mode clip recorded before it.
    """
    duals = [(c, lay) for c, lay in clips if lay.dual and c.usable_frames > 0]
    timed = sorted((cl for cl in duals if cl[0].start is not None),
                   key=lambda cl: cast(datetime, cl[0].start))
    ordered = timed + [cl for cl in duals if cl[0].start is None]
    found: list[Cue] = []
    if ordered:
        first = _first_contrast_clip(timed, injection) or ordered[0]
        found.append(_wash_in(first, sampler))
        found.append(_bmode_match(clips, first, sampler, injection))
        found.append(_decorrelation([first] + [cl for cl in ordered if cl is not first], sampler))
        brightness, tint = _study_samples(ordered, sampler)
        found.append(cues.display_tint(tint))
        found.append(cues.brightness_change(brightness))
    return combine(found)


def _end(clip: Clip) -> datetime | None:
    return clip.frame_time(clip.usable_frames - 1) if clip.start is not None else None


def _first_contrast_clip(timed: list[tuple[Clip, ClipLayout]],
                         injection: datetime | None) -> tuple[Clip, ClipLayout] | None:
    """The earliest dual clip that runs past the injection (+5 s) — the one that can show the wash-in."""
    for cl in timed:
        end = _end(cl[0])
        if injection is None or end is None or end >= injection + timedelta(seconds=5):
            return cl
    return None


def _wash_in(first: tuple[Clip, ClipLayout], sampler: FrameSampler) -> Cue:
    clip, layout = first
    left: list[float] = []
    right: list[float] = []
    for i in sample_indices(clip.usable_frames, WASH_IN_FRAMES):
        g = sampler.gray(clip, i)
        if g is not None:
            m = cues.panel_means(g, layout.panels)
            left.append(m[0])
            right.append(m[1])
    return cues.wash_in((left, right))


def _bmode_match(clips: Sequence[tuple[Clip, ClipLayout]], first: tuple[Clip, ClipLayout],
                 sampler: FrameSampler, injection: datetime | None) -> Cue:
    """The last single-panel clip recorded before the first contrast clip (and before injection), when
    its speckle holds still from frame to frame as B-mode does."""
    dual_clip, dual_layout = first
    if dual_clip.start is None:
        return Cue("bmode_match", cues.NONE, 0.0, "the first contrast clip has no time")
    limit = dual_clip.start if injection is None else min(dual_clip.start, injection)
    singles = [(c, lay) for c, lay in clips if not lay.dual and c.start is not None and c.usable_frames > 0
               and (_end(c) or c.start) <= limit]
    if not singles:
        return Cue("bmode_match", cues.NONE, 0.0, "no single-panel B-mode clip before contrast")
    single, single_layout = max(singles, key=lambda cl: cast(datetime, cl[0].start))  # timed: filtered above
    last = single.usable_frames - 1
    s = sampler.gray(single, last)
    d = sampler.gray(dual_clip, 0)
    if s is None or d is None:
        return Cue("bmode_match", cues.NONE, 0.0, "frame could not be decoded")
    if last >= 1:  # a contrast-only clip is no reference: its echoes change from frame to frame
        prev = sampler.gray(single, last - 1)
        stable = None if prev is None else cues.frame_stability(prev, s, single_layout.panels[0])
        if stable is not None and stable < cues.DECORR_MIN_STABLE:
            return Cue("bmode_match", cues.NONE, 0.0, f"the single-panel clip before contrast is not "
                                                      f"B-mode (speckle correlation {stable:.2f})")
    return cues.bmode_match(s, single_layout.panels[0], d, dual_layout.panels)


def _decorrelation(ordered: list[tuple[Clip, ClipLayout]], sampler: FrameSampler) -> Cue:
    """Consecutive frames: the end of the first contrast clip (after arrival), the start of the next ones."""
    pairs: list[tuple[float, float]] = []
    for k, (clip, layout) in enumerate(ordered):
        if len(pairs) >= DECORR_CLIPS:
            break
        n = clip.usable_frames
        if n < 2:
            continue
        i = n - 2 if k == 0 else 0
        a, b = sampler.gray(clip, i), sampler.gray(clip, i + 1)
        if a is None or b is None:
            continue
        left, right = (cues.frame_stability(a, b, box) for box in layout.panels)
        if left is not None and right is not None:
            pairs.append((left, right))
    return cues.decorrelation(pairs)


def _study_samples(ordered: list[tuple[Clip, ClipLayout]], sampler: FrameSampler
                   ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Panel means and chroma of the first, middle and last frame of every dual clip."""
    brightness: list[tuple[float, float]] = []
    tint: list[tuple[float, float]] = []
    for clip, layout in ordered:
        for i in sample_indices(clip.usable_frames, BRIGHTNESS_FRAMES):
            g, c = sampler.gray(clip, i), sampler.chroma(clip, i)
            if g is None or c is None:
                continue
            brightness.append(cues.panel_means(g, layout.panels))
            tint.append(tuple(cues.panel_chroma(g, c, box) for box in layout.panels))  # type: ignore[arg-type]
    return brightness, tint
