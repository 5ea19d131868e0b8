"""The plain-language readout of the features, in CEUS LI-RADS terms, and the line when they and the
model's call point different ways. Derived measurements, never a diagnosis."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ceusdesk.base.protocol import format_t
from ceusdesk.evidence.features import EARLY_WASHOUT_S, HYPER_RATIO, Z

HEADER = "Derived measurements from the images (research use only): not a diagnosis."
PATTERN_TEXT = {"diffuse": "non-rim, diffuse", "rim": "rim", "peripheral_nodular": "peripheral nodular"}


def _x(v: float | None) -> str:
    return "?" if v is None else f"{v:.2f}×"


def washout_borderline(ev: Mapping[str, Any]) -> bool:
    """Washout that the ratio's uncertainty cannot confirm or exclude: measured, but the range's upper end
    is open (read a little higher, the lesion never stays below the threshold), or not measured while the
    range's lower end exists (read a little lower, it would)."""
    rng = ev.get("washout_onset_range_s")
    return rng is not None and len(rng) == 2 and rng[1] is None  # no onset with a range: always open


def onset_timing(onset: float, rng: list[float | None] | None) -> str | None:
    """"early" (< 60 s) or "late" (≥ 60 s) when the onset's whole range lies on one side; None when the
    range straddles 60 s. Decisions use this, never the wording."""
    lo = rng[0] if rng and rng[0] is not None else onset
    hi = (rng[1] if rng[1] is not None else float("inf")) if rng else onset
    if (lo < EARLY_WASHOUT_S) == (hi < EARLY_WASHOUT_S):
        return "early" if onset < EARLY_WASHOUT_S else "late"
    return None


def when_text(onset: float, rng: list[float | None] | None) -> str:
    """"early, < 60 s" / "late, ≥ 60 s", or that the range does not tell."""
    timing = onset_timing(onset, rng)
    words = {"early": "early, < 60 s", "late": "late, ≥ 60 s"}
    return words[timing] if timing is not None else "early or late cannot be told"


def range_text(rng: list[float | None] | None) -> str:
    if not rng:
        return ""
    hi = format_t(rng[1]) if rng[1] is not None else "none by 6:30"
    return f"; range {format_t(rng[0])} to {hi}"


def feature_lean(ev: dict[str, Any]) -> tuple[str | None, list[str]]:
    """Which way the features point ("malignant", "benign" or None) and why.

    Washout (any onset) or a Kupffer-phase defect point towards malignancy (a Kupffer defect counts as
    washout in the Korean 2023 Sonazoid guideline); neither, with the Kupffer phase assessed, towards
    benign. Without a Kupffer assessment and without washout they do not point either way; neither do
    borderline findings (their range straddles the threshold).
    """
    why: list[str] = []
    onset = ev.get("washout_onset_s")
    wash_borderline = washout_borderline(ev)
    defect_borderline = bool(ev.get("kupffer_defect_borderline"))
    washout = onset is not None and not wash_borderline
    defect = bool(ev.get("kupffer_defect")) and not defect_borderline
    if washout and onset is not None:
        when = when_text(onset, ev.get("washout_onset_range_s")).split(",")[0]  # early | late | undecided
        kind = when if when in ("early", "late") else "early-or-late"
        why.append(f"{kind} washout from {format_t(onset)}")
    if washout and ev.get("washout_degree") == "marked":
        why.append("marked washout")
    if ev.get("aphe_pattern") == "rim":
        why.append("rim APHE")
    if defect:
        why.append("Kupffer-phase defect")
    if washout or defect:
        return "malignant", why
    if (ev.get("washout_degree") == "none" and not wash_borderline and ev.get("kupffer_defect") is False
            and not defect_borderline):
        return "benign", ["no washout", "no Kupffer-phase defect"]
    return None, []


def combination(ev: dict[str, Any]) -> str | None:
    """The CEUS LI-RADS feature combination the features form, if a named one. Borderline washout or
    defect never completes a combination (nor its absence one)."""
    wash_borderline = washout_borderline(ev)
    onset = None if wash_borderline else ev.get("washout_onset_s")
    degree, pattern = ev.get("washout_degree"), ev.get("aphe_pattern")
    timing = None if onset is None else onset_timing(onset, ev.get("washout_onset_range_s"))
    lr_m = [w for w, on in (("rim APHE", pattern == "rim"),
                            ("early washout", timing == "early"),
                            ("marked washout", onset is not None and degree == "marked")) if on]
    if lr_m:
        return "CEUS LI-RADS LR-M features: " + ", ".join(lr_m) + "."
    # LR-5 needs the washout late: an onset whose range straddles 60 s completes neither combination
    if ev.get("aphe") and pattern != "rim" and timing == "late" and degree == "mild":
        return ("Non-rim APHE with late, mild washout: the CEUS LI-RADS LR-5 combination "
                "(for a lesion ≥ 10 mm in a patient at risk).")
    if (ev.get("aphe") and degree == "none" and not wash_borderline and ev.get("kupffer_defect") is False
            and not ev.get("kupffer_defect_borderline")):
        return ("APHE without washout or Kupffer-phase defect: a pattern typical of benign hypervascular "
                "lesions.")
    return None


def readout(ev: dict[str, Any], reasons: dict[str, str]) -> list[str]:
    """Lines for the user; ``reasons`` says why a field is null (field name → reason)."""
    lines = [HEADER]
    if ev.get("aphe") is None:
        lines.append(f"Arterial phase: not assessed ({reasons.get('aphe', 'no arterial curve')}).")
    elif ev["aphe"]:
        pat = PATTERN_TEXT.get(ev.get("aphe_pattern") or "", "pattern not told")
        where = ""
        if (ev.get("peak_ratio") or 0.0) < HYPER_RATIO and ev.get("aphe_periphery_ratio") is not None:
            at, rim = format_t(ev.get("aphe_pattern_at_s")), _x(ev.get("aphe_periphery_ratio"))
            where = (f" APHE rests on the pattern frame at {at}: periphery {rim}, "
                     f"centre {_x(ev.get('aphe_centre_ratio'))} the liver.")
        lines.append(f"Arterial phase: hyperenhancement (APHE, {pat}); lesion {_x(ev.get('peak_ratio'))} the "
                     f"liver at its peak, {format_t(ev.get('time_to_peak_s'))} after injection.{where}")
    else:
        lines.append(f"Arterial phase: no hyperenhancement (lesion {_x(ev.get('peak_ratio'))} the liver "
                     "at its peak).")
    degree, onset = ev.get("washout_degree"), ev.get("washout_onset_s")
    if degree is None:
        lines.append(f"Washout: not assessed ({reasons.get('washout', 'no samples after the peak')}).")
    elif onset is None:
        through = reasons.get("last_vascular", "the last clip")
        maybe = ""
        if washout_borderline(ev):
            z = (ev.get("ratio_uncertainty") or {}).get("z", Z)
            maybe = (f" Borderline: read {z:g} standard errors lower, the lesion "
                     f"would stay below from {format_t(ev['washout_onset_range_s'][0])}.")
        lines.append(f"Washout: none (lesion not below the liver through {through}).{maybe}")
    else:
        rng = ev.get("washout_onset_range_s")
        at = ", ".join(f"{k} {v}" for k, v in (ev.get("washout_degree_at") or {}).items()
                       if v and k != "10:00")
        lead = "Washout (borderline: within the ratio's uncertainty it may not persist)" \
            if washout_borderline(ev) else "Washout"
        lines.append(f"{lead}: from {format_t(onset)} ({when_text(onset, rng)}{range_text(rng)}), {degree}"
                     + (f" (degree at {at})." if at else "."))
    if ev.get("kupffer_defect") is None:
        lines.append(f"Kupffer phase: not assessed ({reasons.get('kupffer', 'no 10:00 image')}).")
    else:
        state = "defect" if ev["kupffer_defect"] else "no defect"
        rng = ev.get("kupffer_ratio_range")
        span = f", range {rng[0]:.2f}–{rng[1]:.2f}" if rng else ""
        if ev.get("kupffer_defect_borderline"):
            state = "borderline, defect or not cannot be told"
        lines.append(f"Kupffer phase (10:00): {state}; lesion {_x(ev.get('kupffer_ratio'))} the liver{span}.")
    if ev.get("lesion_size_mm") is None:
        lines.append(f"Size: not measured ({reasons.get('size', 'no segmentation')}).")
    else:
        lines.append(f"Size: {ev['lesion_size_mm']:.0f} mm (equivalent diameter of the segmented lesion).")
    combo = combination(ev)
    if combo:
        lines.append(combo)
    return lines


def disagreement(ev: dict[str, Any], call: str | None) -> str | None:
    """A line when the features point one way and the model's call the other; None when they agree,
    when the features do not point either way, or when there is no call."""
    lean, why = feature_lean(ev)
    if lean is None or call not in ("benign", "malignant") or lean == call:
        return None
    return (f"The measured features point towards {lean} ({', '.join(why)}), the model's call is {call}: "
            "review the images.")


def summary_lines(ev: dict[str, Any]) -> list[str]:
    """The few lines ``analyze`` prints: the readout (its header first) and the disagreement, if any."""
    lines = ev.get("readout") or []
    out = [f"evidence   {lines[0]}" if lines else "evidence   none"]
    out += [f"           {line}" for line in lines[1:]]
    if ev.get("disagreement"):
        out.append(f"           NOTE: {ev['disagreement']}")
    return out
