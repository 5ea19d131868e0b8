"""Random draws that define one phantom case: patient physiology, liver, lesion and display settings.

Every number a case needs is drawn here, once, from the case's generator, so rendering is a pure
function of these parameters (plus per-frame noise seeded separately). Lengths are in cm, times in s
after injection, enhancement in arbitrary concentration units (liver parenchyma ~0.2 at peak).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ceusdesk.phantom.subtypes import LABELS, SUBTYPES, subtypes_of


@dataclass(frozen=True)
class Kinetics:
    """Blood-pool input curves and Kupffer uptake of the patient's liver."""

    t_arrival: float        # arterial arrival of the bolus (s)
    t_rise: float           # arrival → first-pass peak (s)
    first_pass: float       # first-pass arterial peak amplitude
    portal_delay: float     # portal vein lags the hepatic artery (s)
    portal_spread: float    # portal bolus is broader by this factor
    equilibrium: float      # recirculated blood-pool level after the first pass
    tau_clear: float        # blood-pool clearance time constant (s)
    kupffer_max: float      # parenchymal Kupffer-cell signal reached late
    tau_kupffer: float      # build-up time constant of Kupffer uptake (s)
    blood_fraction: float   # parenchymal blood volume (relative)
    arterial_fraction: float  # share of liver perfusion from the hepatic artery


@dataclass(frozen=True)
class Lesion:
    """Geometry, echo and enhancement of the one focal lesion."""

    subtype: str
    label: str
    diameter_cm: float
    depth_cm: float          # centre depth below the skin
    lateral: float           # centre offset as a fraction of the usable half-width (-1..1)
    harmonics: tuple[tuple[float, float], ...]  # (amplitude, phase) of shape harmonics k = 2..
    edge_px: float           # edge blur in units of lesion radius / 20 (infiltrative margins are softer)
    echo: float              # B-mode reflectivity relative to liver
    halo: float              # hypoechoic halo strength 0..1 (metastasis, HCC capsule)
    mosaic: float            # B-mode heterogeneity 0..1
    scar: float              # central scar radius as a fraction of the lesion radius (0 = none)
    pattern: str             # homogeneous | rim | mosaic | nodular | spoke
    v_art: float             # arterial blood volume
    v_portal: float          # portal/pooled blood volume
    arrival_shift: float     # lesion arrival relative to the liver (s)
    tau_fill: float          # fill-in time constant for nodular/spoke patterns (s)
    t_washout: float         # washout onset (s after injection); inf = none
    tau_washout: float       # washout time constant (s)
    washout_floor: float     # fraction of lesion blood left after washout
    kupffer: float           # Kupffer-cell content relative to liver (1 = iso at 10 min)
    kupffer_patchy: float    # 0..1 spatial heterogeneity of Kupffer content (hemangioma partial defect)
    necrosis: float          # central non-enhancing fraction of the radius
    blobs: tuple[tuple[float, float, float, float], ...]  # (u, v, size, weight) in lesion radii


@dataclass(frozen=True)
class Anatomy:
    depth_cm: float          # imaging depth shown on the panel
    wall_cm: float           # skin + fat + muscle above the liver capsule
    diaphragm_cm: float      # depth of the diaphragm at the centre line
    diaphragm_tilt: float    # slope of the diaphragm across the panel (cm per half-width)
    cirrhotic: bool
    texture_sigma: float     # log-reflectivity spread of parenchymal texture
    texture_scale_cm: float  # correlation length of the texture
    vessels: tuple[tuple[str, float, float, float, float, float, float], ...]
    # (kind, x0 cm from the centre line, y0 cm depth, angle rad, length cm, radius cm, bend rad)
    brightness: float = 1.0  # parenchymal reflectivity factor (cirrhosis and fatty liver are brighter)
    surface_cm: float = 0.0  # amplitude of the capsule's nodular undulation (cirrhosis)


@dataclass(frozen=True)
class Patient:
    """What every lesion of one patient shares: the liver (cirrhosis, kinetics) and the anatomy."""

    cirrhotic: bool
    kinetics: Kinetics
    anatomy: Anatomy


@dataclass(frozen=True)
class Display:
    bmode_gain_db: float
    ceus_gain_db: float
    ceus_attenuation: float  # residual contrast attenuation after TGC (dB/cm)
    tgc_ripple_db: float     # imperfect TGC: slow gain ripple with depth
    breathing_px: float      # breathing amplitude as a fraction of panel height
    breathing_period: float
    breathing_phase: float
    drift: float             # probe drift between clips, fraction of panel height


@dataclass(frozen=True)
class CaseParams:
    label: str
    subtype: str
    kinetics: Kinetics
    anatomy: Anatomy
    lesion: Lesion
    display: Display
    extra: dict = field(default_factory=dict)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


class Draw:
    """The sampler's random draws; in textbook mode each range shrinks to its central ``CENTRAL`` part
    and each yes/no choice takes its commoner answer, so a case reads as the subtype's classic picture.
    The generator is consumed the same way in both modes."""

    CENTRAL = 0.3

    def __init__(self, rng: np.random.Generator, textbook: bool = False) -> None:
        self.rng = rng
        self.textbook = textbook

    def u(self, lo: float, hi: float) -> float:
        x = float(self.rng.uniform(lo, hi))
        if not self.textbook:
            return x
        mid = 0.5 * (lo + hi)
        return mid + (x - mid) * self.CENTRAL

    def logu(self, lo: float, hi: float) -> float:
        return float(np.exp(self.u(np.log(lo), np.log(hi))))

    def chance(self, p: float) -> bool:
        r = float(self.rng.random())
        return p > 0.5 if self.textbook else r < p

    def pick(self, options: tuple, weights: tuple[float, ...]):
        """One of ``options`` with these relative weights (textbook: the most likely one)."""
        w = np.asarray(weights, dtype=float)
        i = int(self.rng.choice(len(options), p=w / w.sum()))
        return options[int(np.argmax(w))] if self.textbook else options[i]


# Cirrhosis prevalence: HCC grows in cirrhotic livers; other lesions sometimes do too. With no label the
# prevalence of the default class mix (48:78:55).
# v3: 0.6 vs 0.3 (v2 0.7 vs 0.25): series of CEUS-characterized lesions include many HCC in livers not yet
# cirrhotic and benign/metastatic lesions in chronic liver disease; cirrhosis alone gave AUC 0.62.
CIRRHOSIS_PREVALENCE = {"hcc": 0.6, "benign": 0.3, "non_hcc_malignant": 0.3, None: 0.43}


def sample_kinetics(d: Draw, cirrhotic: bool) -> Kinetics:
    return Kinetics(
        t_arrival=d.u(9.0, 19.0),
        t_rise=d.u(6.0, 12.0),
        first_pass=d.u(0.8, 1.2),
        portal_delay=d.u(6.0, 12.0),
        portal_spread=d.u(1.5, 2.2),
        equilibrium=d.u(0.30, 0.42),
        tau_clear=d.u(150.0, 280.0),
        kupffer_max=d.u(0.17, 0.27) * (d.u(0.75, 1.0) if cirrhotic else 1.0),
        tau_kupffer=d.u(110.0, 230.0),
        blood_fraction=d.u(0.25, 0.35),
        # cirrhosis shifts perfusion toward the artery; the ranges overlap (cirrhosis is no kinetic giveaway)
        arterial_fraction=d.u(0.24, 0.40) if cirrhotic else d.u(0.18, 0.32),
    )


def sample_anatomy(d: Draw, cirrhotic: bool) -> Anatomy:
    depth = d.u(12.0, 16.0)
    wall = d.u(1.3, 2.6)
    vessels = []
    rng = d.rng  # vessel layout is scenery: never narrowed by textbook mode
    for kind, n in (("portal", int(rng.integers(1, 4))), ("hepatic", int(rng.integers(1, 3))),
                    ("artery", int(rng.integers(1, 3)))):
        for _ in range(n):
            radius = {"portal": _u(rng, 0.18, 0.45), "hepatic": _u(rng, 0.15, 0.35),
                      "artery": _u(rng, 0.06, 0.1)}[kind]
            vessels.append((kind, _u(rng, -5.0, 5.0), _u(rng, wall + 1.5, depth - 1.0),
                            _u(rng, -np.pi, np.pi), _u(rng, 2.5, 7.0), radius, _u(rng, -0.5, 0.5)))
    return Anatomy(
        depth_cm=depth, wall_cm=wall, diaphragm_cm=depth + d.u(-3.5, 1.5),
        diaphragm_tilt=d.u(-1.5, 1.5), cirrhotic=cirrhotic,
        # coarser, brighter, nodular in cirrhosis; overlapping normal (fatty, heterogeneous) livers
        texture_sigma=d.u(0.16, 0.38) if cirrhotic else d.u(0.10, 0.26),
        texture_scale_cm=d.u(0.3, 0.9) if cirrhotic else d.u(0.2, 0.55),
        brightness=d.u(1.1, 1.5) if cirrhotic else d.u(0.85, 1.25),
        surface_cm=d.u(0.0, 0.12) if cirrhotic else (d.u(0.0, 0.04) if d.chance(0.15) else 0.0),
        vessels=tuple(vessels),
    )


def sample_patient(rng: np.random.Generator, label: str | None = None, textbook: bool = False) -> Patient:
    """Draw what a patient's lesions share. ``label`` (of the patient's first lesion) only sets the
    cirrhosis prevalence; textbook: cirrhotic exactly when the lesion is an HCC."""
    if label not in CIRRHOSIS_PREVALENCE:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    d = Draw(rng, textbook)
    cirrhotic = d.chance(CIRRHOSIS_PREVALENCE[label])
    if textbook:
        cirrhotic = label == "hcc"
    return Patient(cirrhotic=cirrhotic, kinetics=sample_kinetics(d, cirrhotic),
                   anatomy=sample_anatomy(d, cirrhotic))


def sample_display(rng: np.random.Generator) -> Display:
    return Display(
        bmode_gain_db=_u(rng, -3.0, 3.0), ceus_gain_db=_u(rng, -2.5, 2.5),
        ceus_attenuation=_u(rng, 0.1, 0.5), tgc_ripple_db=_u(rng, 0.0, 2.0),
        breathing_px=_u(rng, 0.0, 0.008), breathing_period=_u(rng, 3.5, 5.5),
        breathing_phase=_u(rng, 0.0, 2 * np.pi), drift=_u(rng, 0.0, 0.008),
    )


def _blobs(d: Draw, n: int, r_lo: float, r_hi: float, size: tuple[float, float],
           weight: tuple[float, float]) -> tuple[tuple[float, float, float, float], ...]:
    rng = d.rng  # positions of nodules/spokes/blobs: always random
    out = []
    for _ in range(n):
        a = _u(rng, -np.pi, np.pi)
        r = _u(rng, r_lo, r_hi)
        out.append((r * np.cos(a), r * np.sin(a), _u(rng, *size), _u(rng, *weight)))
    return tuple(out)


# Diameter ranges (cm, log-uniform), overlapping as in clinical series.
SIZE_RANGE_CM = {"hemangioma": (1.0, 6.0), "fnh": (1.0, 5.5), "benign_other": (1.0, 4.5),
                 "hcc_well": (1.0, 3.5), "hcc_moderate": (1.3, 7.0), "metastasis": (0.8, 5.5),
                 "icc": (1.5, 7.0)}

PATTERNS = ("homogeneous", "rim", "mosaic", "nodular", "spoke")
# Arterial pattern shares per subtype, in the order of PATTERNS. Each pattern stays the mode of the subtype
# it is typical of, and every one turns up elsewhere as in clinical series: rim APHE in some HCC and benign
# lesions (hemangioma's peripheral globules), nodular-like APHE in some HCC, metastases and adenomas,
# spoke-like arteries in some HCC, homogeneous APHE in every class (flash-filling hemangiomas, diffuse
# metastases). Tuned so the pattern alone separates benign from malignant with AUC ≈ 0.67.
PATTERN_SHARES = {
    "hemangioma": (0.33, 0.15, 0.00, 0.52, 0.00),
    "fnh": (0.36, 0.00, 0.06, 0.05, 0.53),
    "benign_other": (0.58, 0.12, 0.17, 0.08, 0.05),
    "hcc_well": (0.68, 0.03, 0.07, 0.15, 0.07),
    "hcc_moderate": (0.47, 0.10, 0.22, 0.14, 0.07),  # mosaic mostly in the large ones (see _pattern)
    "metastasis": (0.32, 0.50, 0.04, 0.14, 0.00),
    "icc": (0.25, 0.50, 0.20, 0.02, 0.03),
}
# B-mode echo (hypo, iso, hyper) shares: hyperechoic hemangiomas and focal fat, but also hyperechoic
# metastases (colorectal, neuroendocrine) and fatty HCC; iso-echoic hemangiomas; hypoechoic FNH.
ECHO_SHARES = {
    "hemangioma": (0.10, 0.38, 0.52), "fnh": (0.15, 0.72, 0.13), "benign_other": (0.25, 0.45, 0.30),
    "hcc_well": (0.25, 0.50, 0.25), "hcc_moderate": (0.50, 0.35, 0.15), "metastasis": (0.46, 0.24, 0.30),
    "icc": (0.40, 0.48, 0.12),
}
ECHO_RANGE = ((0.45, 0.85), (0.85, 1.2), (1.25, 2.2))
# (share with a hypoechoic halo, its strength range): pseudo-capsules of FNH and adenoma, no halo in many
# malignant lesions.
HALO = {"hemangioma": (0.10, (0.1, 0.4)), "fnh": (0.38, (0.1, 0.6)), "benign_other": (0.38, (0.1, 0.6)),
        "hcc_well": (0.30, (0.1, 0.5)), "hcc_moderate": (0.55, (0.15, 0.85)),
        "metastasis": (0.60, (0.2, 0.9)), "icc": (0.25, (0.1, 0.45))}
# share with a soft (blurred, infiltrative-looking) edge: commonest in non-HCC malignancy, seen everywhere
HALO_RANGE = (0.1, 0.8)  # v3: one strength range for every class outside textbook cases
SOFT_EDGE = {"hemangioma": 0.10, "fnh": 0.10, "benign_other": 0.25, "hcc_well": 0.30, "hcc_moderate": 0.15,
             "metastasis": 0.45, "icc": 0.60}
VASCULAR_JITTER = (0.6, 1.6)  # per-lesion factor on blood volumes: vascularity varies within a subtype

# Phantom v3: B-mode and morphology are weak clues in life (each alone AUC ~0.55-0.65), and a model must
# not be able to add them up into the answer (v2: all together AUC 0.97). Each subtype's share of every
# non-kinetic feature is pulled this far toward the mean share over the subtypes; the subtype keeps its
# direction (hyperechoic hemangiomas stay commoner) but not its signature. Textbook cases use the
# unpooled shares, so the classic pictures stay classic.
POOL = {"pattern": 0.25, "echo": 0.55, "halo": 0.6, "edge": 0.6, "outline": 0.6, "extra": 0.5}


def _pooled(shares: dict[str, float], weight: float) -> dict[str, float]:
    mean = float(np.mean(list(shares.values())))
    return {k: (1.0 - weight) * v + weight * mean for k, v in shares.items()}


def _pooled_rows(rows: Mapping[str, tuple[float, ...]], weight: float) -> dict[str, tuple[float, ...]]:
    mean = np.mean(np.array(list(rows.values())), axis=0)
    return {k: tuple(float(x) for x in (1.0 - weight) * np.array(v) + weight * mean) for k, v in rows.items()}


# Lobulated or irregular outlines (harmonic amplitude 0.08-0.14 instead of 0.02-0.08): commonest in
# metastases and ICC, but FNH and large hemangiomas are often lobulated and many malignancies are round.
LOBULATED = {"hemangioma": 0.20, "fnh": 0.30, "benign_other": 0.20, "hcc_well": 0.15, "hcc_moderate": 0.35,
             "metastasis": 0.45, "icc": 0.55}
# A central non-enhancing area (necrosis in malignancy; thrombosis, haemorrhage or hyalinization in
# benign lesions), apart from the rim pattern's core.
NECROTIC = {"hemangioma": 0.15, "fnh": 0.03, "benign_other": 0.15, "hcc_well": 0.05, "hcc_moderate": 0.22,
            "metastasis": 0.28, "icc": 0.22}
# A central scar (FNH's classic one; central fibrosis of large hemangiomas, ICC, scirrhous HCC,
# treated metastases).
SCARRED = {"hemangioma": 0.10, "fnh": 0.50, "benign_other": 0.05, "hcc_well": 0.05, "hcc_moderate": 0.08,
           "metastasis": 0.08, "icc": 0.25}
# B-mode heterogeneity beyond the mosaic pattern (adenoma haemorrhage, large hemangiomas, large HCC).
HETEROGENEOUS = {"hemangioma": 0.15, "fnh": 0.08, "benign_other": 0.20, "hcc_well": 0.12,
                 "hcc_moderate": 0.30, "metastasis": 0.18, "icc": 0.15}


def _pattern(d: Draw, subtype: str, diameter: float) -> tuple[str, dict]:
    """The arterial pattern and what it needs (nodules, spokes, blobs, fill time, necrosis)."""
    shares = list(PATTERN_SHARES[subtype])
    if subtype == "hcc_moderate":  # mosaic ("nodule in nodule") is a feature of large HCC
        large = diameter > 3.0
        shares[2], shares[0] = (0.35, 0.34) if large else (0.09, 0.60)
    if not d.textbook:
        mean = np.mean(np.array(list(PATTERN_SHARES.values())), axis=0)
        shares = list((1.0 - POOL["pattern"]) * np.array(shares) + POOL["pattern"] * mean)
    pattern = d.pick(PATTERNS, tuple(shares))
    malignant = SUBTYPES[subtype].label != "benign"
    p: dict = {"pattern": pattern}
    if pattern == "nodular":
        if subtype == "hemangioma":  # slow centripetal fill-in; small ones sometimes flash-fill
            flash = diameter < 2.0 and d.chance(0.5)
            p["tau_fill"] = d.u(2.0, 6.0) if flash else d.logu(25.0, 240.0)
        else:  # nodular-like arterial enhancement that fills quickly
            p["tau_fill"] = d.u(4.0, 20.0)
        p["blobs"] = _blobs(d, int(d.rng.integers(5, 12)), 0.75, 0.98, (0.12, 0.25), (0.7, 1.0))
    elif pattern == "spoke":
        p["tau_fill"] = d.u(5.0, 14.0)
        p["blobs"] = _blobs(d, int(d.rng.integers(4, 8)), 1.0, 1.0, (0.05, 0.1), (0.6, 1.0))
    elif pattern == "mosaic":
        p["blobs"] = _blobs(d, int(d.rng.integers(5, 10)), 0.0, 0.8, (0.2, 0.45), (0.3, 1.0))
        p["mosaic"] = d.u(0.3, 0.8)
        p["necrosis"] = d.u(0.0, 0.3) if diameter > 3.0 else 0.0
    elif pattern == "rim":  # a rim surrounds a hypovascular core: necrosis in malignancy, hyalinized or
        # thrombosed centres in benign lesions (v3: one range for both; v2 gave malignant rims 0.2-0.6)
        p["necrosis"] = d.u(0.1, 0.5) if (malignant or d.textbook) else d.u(0.0, 0.45)
    return pattern, p


def _washout(d: Draw, onset: tuple[float, float], tau: tuple[float, float],
             floor: tuple[float, float]) -> dict:
    return {"t_washout": d.u(*onset), "tau_washout": d.u(*tau), "washout_floor": d.u(*floor)}


def sample_lesion(rng: np.random.Generator | Draw, subtype: str, anatomy: Anatomy) -> Lesion:
    """Draw the lesion of ``subtype``; the spreads make the classes overlap as in life (docs/phantom.md)."""
    d = rng if isinstance(rng, Draw) else Draw(rng)
    u, chance = d.u, d.chance
    st = SUBTYPES[subtype]
    diameter = d.logu(*SIZE_RANGE_CM[subtype])
    # v3: one amplitude range for every class, lobulated outlines commoner in some (v2 drew 0.04 benign,
    # 0.06 HCC, 0.10 metastasis/ICC: alone AUC 0.91)
    lobulated = _pooled(LOBULATED, 0.0 if d.textbook else POOL["outline"])[subtype]
    irregular = u(0.08, 0.14) if chance(lobulated) else u(0.02, 0.08)
    harmonics = tuple((_u(d.rng, 0.0, irregular / np.sqrt(k - 1)), _u(d.rng, 0, 2 * np.pi))
                      for k in range(2, 7))
    # usable centre depths: inside the liver, lesion fully in view
    r = diameter / 2
    dmin = anatomy.wall_cm + r + 0.4
    dmax = min(anatomy.diaphragm_cm - 0.8, anatomy.depth_cm - 0.4) - r
    depth = u(dmin, max(dmin, dmax))
    common: dict[str, Any] = dict(subtype=subtype, label=st.label, diameter_cm=diameter, depth_cm=depth,
                  lateral=u(-0.6, 0.6), harmonics=harmonics)
    # B-mode: echo, halo, edge, drawn alike for every subtype from its shares
    pool = 0.0 if d.textbook else 1.0
    echo = u(*ECHO_RANGE[d.pick((0, 1, 2), _pooled_rows(ECHO_SHARES, pool * POOL["echo"])[subtype])])
    halo_share = _pooled({k: v[0] for k, v in HALO.items()}, pool * POOL["halo"])[subtype]
    halo_range = HALO[subtype][1] if d.textbook else HALO_RANGE
    halo = u(*halo_range) if chance(halo_share) else 0.0
    edge = u(1.6, 3.0) if chance(_pooled(SOFT_EDGE, pool * POOL["edge"])[subtype]) else u(0.7, 1.5)
    pattern, pat = _pattern(d, subtype, diameter)
    p: dict = dict(edge_px=edge, echo=echo, halo=halo, mosaic=0.0, scar=0.0, v_art=0.1, v_portal=0.15,
                   arrival_shift=0.0, tau_fill=1.0, t_washout=float("inf"), tau_washout=300.0,
                   washout_floor=1.0, kupffer=1.0, kupffer_patchy=0.0, necrosis=0.0, blobs=())
    p.update(pat)
    if subtype == "hemangioma":
        p.update(v_art=u(0.1, 0.35), v_portal=u(0.55, 1.0), arrival_shift=u(-1.0, 3.0))
        if chance(0.2):  # atypical (sclerosing / partly thrombosed): little blood pool left to fill
            p.update(v_art=u(0.05, 0.2), v_portal=u(0.12, 0.4))
        if chance(0.55):  # Kupffer near iso
            p.update(kupffer=u(0.75, 1.05), kupffer_patchy=u(0.0, 0.3))
        else:  # partial defect (no Kupffer cells in the vascular spaces)
            p.update(kupffer=u(0.2, 0.75), kupffer_patchy=u(0.3, 0.9))
        if chance(0.35):  # late loss of contrast (thrombosed / sclerosed parts)
            p.update(_washout(d, (90.0, 240.0), (150.0, 400.0), (0.25, 0.65)))
    elif subtype == "fnh":
        p.update(scar=u(0.08, 0.2) if chance(0.5) else 0.0, v_art=u(0.4, 0.8), v_portal=u(0.15, 0.3),
                 arrival_shift=u(-3.0, -0.5), kupffer=u(0.85, 1.25), kupffer_patchy=u(0.0, 0.2))
        if chance(0.10):
            p.update(kupffer=u(0.55, 0.85))
        if chance(0.22):
            p.update(_washout(d, (90.0, 240.0), (200.0, 500.0), (0.35, 0.75)))
    elif subtype == "benign_other":
        p.update(v_art=u(0.04, 0.45), v_portal=u(0.12, 0.3), arrival_shift=u(-2.0, 2.0),
                 kupffer=u(0.75, 1.15), kupffer_patchy=u(0.0, 0.3))
        if chance(0.40):  # adenomas hold few Kupffer cells: a partial defect late
            p.update(kupffer=u(0.3, 0.75), kupffer_patchy=u(0.1, 0.5))
        if chance(0.45):  # adenomas may wash out mildly
            p.update(_washout(d, (60.0, 200.0), (120.0, 400.0), (0.3, 0.7)))
    elif subtype == "hcc_well":  # nearly iso at 10 min when Kupffer cells are retained
        p.update(v_art=u(0.05, 0.35), v_portal=u(0.08, 0.25), arrival_shift=u(-2.0, 1.0),
                 kupffer=u(0.55, 1.1), kupffer_patchy=u(0.0, 0.3))
        if chance(0.4):
            p.update(_washout(d, (120.0, 300.0), (200.0, 500.0), (0.4, 0.8)))
    elif subtype == "hcc_moderate":
        if diameter > 3.0:
            p.update(mosaic=max(p["mosaic"], u(0.4, 0.9)))
        p.update(v_art=u(0.45, 1.0), v_portal=u(0.0, 0.06), arrival_shift=u(-3.0, -0.5),
                 kupffer=u(0.0, 0.45) if chance(0.8) else u(0.45, 0.85), kupffer_patchy=u(0.0, 0.4))
        if chance(0.85):  # the rest show no washout
            p.update(_washout(d, (60.0, 170.0), (80.0, 300.0), (0.1, 0.5)))
    elif subtype in ("metastasis", "icc"):
        p.update(v_art=u(0.12, 0.5) if subtype == "icc" else u(0.2, 0.65), v_portal=u(0.0, 0.05),
                 arrival_shift=u(-3.0, 0.0), kupffer=u(0.0, 0.12), kupffer_patchy=0.0)
        onset = (28.0, 40.0) if subtype == "icc" else (25.0, 58.0)
        p.update(_washout(d, onset, (15.0, 60.0), (0.0, 0.25)))
        if subtype == "metastasis" and chance(0.12):  # a slowly washing-out metastasis
            p.update(_washout(d, (70.0, 150.0), (150.0, 300.0), (0.4, 0.7)), kupffer=u(0.2, 0.6))
    else:  # pragma: no cover - SUBTYPES lookup above already failed
        raise ValueError(subtype)
    if not d.textbook:  # v3 morphology shared across classes (see NECROTIC, SCARRED, HETEROGENEOUS)
        w = POOL["extra"]
        if chance(_pooled(NECROTIC, w)[subtype]) and diameter > 1.5:
            p["necrosis"] = max(p["necrosis"], u(0.15, 0.5))
        if chance(_pooled(SCARRED, w)[subtype]) and diameter > 2.0 and p["scar"] == 0.0:
            p["scar"] = u(0.08, 0.2)
        if chance(_pooled(HETEROGENEOUS, w)[subtype]):
            p["mosaic"] = max(p["mosaic"], u(0.2, 0.8))
    p["v_art"] *= d.logu(*VASCULAR_JITTER)
    p["v_portal"] *= d.logu(*VASCULAR_JITTER)
    return Lesion(**common, **p)


def sample_case(rng: np.random.Generator, label: str | None = None, subtype: str | None = None,
                patient: Patient | None = None, textbook: bool = False) -> CaseParams:
    """Draw a whole case: class, subtype, patient (unless given), lesion and display.

    ``subtype`` wins over ``label``; neither → label drawn 48:78:55. ``patient`` reuses another
    lesion's patient (liver, kinetics, anatomy). ``textbook`` draws the centre of the subtype's
    distribution with its classic pattern, from the subtypes that have one (HCC → hcc_moderate,
    non-HCC malignant → metastasis, benign → hemangioma or FNH); it refuses a subtype without one.
    """
    if subtype is not None:
        if subtype not in SUBTYPES:
            raise ValueError(f"unknown subtype {subtype!r}; expected one of {', '.join(SUBTYPES)}")
        if label is not None and SUBTYPES[subtype].label != label:
            raise ValueError(f"subtype {subtype!r} is {SUBTYPES[subtype].label}, not {label}")
        if textbook and not SUBTYPES[subtype].textbook:
            have = ", ".join(s for s, v in SUBTYPES.items() if v.textbook)
            raise ValueError(f"subtype {subtype!r} has no textbook picture; one of {have}")
        label = SUBTYPES[subtype].label
    else:
        if label is None:
            label = str(rng.choice(list(LABELS), p=np.array([48, 78, 55]) / 181))
        choices = subtypes_of(label, textbook=textbook)
        shares = np.array([s.share for s in choices])
        subtype = choices[int(rng.choice(len(choices), p=shares / shares.sum()))].name
    if patient is None:
        patient = sample_patient(rng, label, textbook)
    lesion = sample_lesion(Draw(rng, textbook), subtype, patient.anatomy)
    display = sample_display(rng)
    return CaseParams(label=label, subtype=subtype, kinetics=patient.kinetics, anatomy=patient.anatomy,
                      lesion=lesion, display=display)
