"""The simulated expert washout score.

Scale (ordinal 1–5), what a reader would call the lesion after reviewing the whole examination:

====  ===========================================================================================
1     no washout: iso- or hyperenhancing through the late phase, no Kupffer defect
2     probably no washout (slight, equivocal hypoenhancement)
3     mild late washout or a Kupffer-phase defect (counts as washout, Korean 2023 guideline)
4     clear washout
5     early (< 60 s) or marked ("punched out" within 2 min) washout
====  ===========================================================================================

How it is drawn: the reader sees the lesion's true hypoenhancement (in dB, lesion vs liver, noise-free)
at 1:00–6:00 and at 10:00 (Kupffer, weighted 0.8 since a defect only substitutes for washout); the
largest is the washout degree. Reader variability adds Gaussian noise (sd ``READER_SD_DB``); the sum
is cut at ``CUTS_DB``. "Early or marked" (5) additionally needs the washout to show by 1:00–2:00.
The usual rule "score ≥ 3 → malignant" lands near published reader performance (sensitivity ~85–90 %,
specificity ~60–70 %) on a default cohort; tests/phantom checks it.
"""
from __future__ import annotations

import numpy as np

from ceusdesk.phantom import kinetics as kin
from ceusdesk.phantom.lesion import build_maps
from ceusdesk.phantom.params import CaseParams

READER_SD_DB = 1.0
CUTS_DB = (1.0, 1.8, 4.5, 8.0)  # score boundaries 1|2, 2|3, 3|4, 4|5
VASCULAR_S = (60.0, 120.0, 180.0, 240.0, 300.0, 360.0)
KUPFFER_S = 600.0
POSITIVE_FROM = 3

_GRID = np.meshgrid(np.linspace(-1.0, 1.0, 41), np.linspace(-1.0, 1.0, 41))


def expected_ratios(params: CaseParams, times) -> np.ndarray:
    """Noise-free lesion/liver signal ratio (linear) at each time, averaged over the lesion."""
    k, les = params.kinetics, params.lesion
    maps = build_maps(_GRID[0], _GRID[1], les)
    w = maps.mask * (maps.rho < 0.9)
    out = []
    for t in np.atleast_1d(np.asarray(times, dtype=float)):
        front = kin.fill_front(float(t), k, les)
        sig = maps.perfusion(les, front) * float(kin.lesion_blood(t, k, les)) \
            + maps.kupffer * float(kin.kupffer(t, k))
        out.append(float((sig * w).sum() / w.sum()) / float(kin.liver(t, k)))
    return np.array(out)


def washout_degree_db(params: CaseParams) -> tuple[float, float]:
    """(overall degree, degree by 2 min) of hypoenhancement in dB; negative = hyper/iso."""
    r = expected_ratios(params, (*VASCULAR_S, KUPFFER_S))
    hypo = -10.0 * np.log10(np.maximum(r, 1e-3))
    overall = max(float(hypo[:-1].max()), 0.8 * float(hypo[-1]))
    early = float(hypo[:2].max())
    return overall, early


def washout_score(params: CaseParams, rng: np.random.Generator) -> int:
    """Draw the simulated reader's 1–5 score for this case (see module docstring)."""
    overall, early = washout_degree_db(params)
    seen = overall + float(rng.normal(0.0, READER_SD_DB))
    score = 1 + int(np.searchsorted(CUTS_DB, seen))
    if score == 5 and early + float(rng.normal(0.0, READER_SD_DB)) < CUTS_DB[2]:  # not marked by 2 min
        score = 4
    return score
