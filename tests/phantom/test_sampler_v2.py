"""Phantom v2's sampler: patients shared by lesions, textbook cases, and classes that overlap as in life."""
import math

import numpy as np
import pytest

from ceusdesk.phantom.params import CaseParams, sample_case, sample_patient
from ceusdesk.phantom.subtypes import SUBTYPES
from ceusdesk.phantom.washout import CUTS_DB, POSITIVE_FROM, washout_degree_db


def _cases(n: int, seed: int = 0) -> list[CaseParams]:
    return [sample_case(np.random.default_rng([seed, i])) for i in range(n)]


@pytest.fixture(scope="module")
def cohort() -> list[CaseParams]:
    return _cases(1500)


def _share(cases, subtype_or_label, pred) -> float:
    sel = [c for c in cases if subtype_or_label in (c.subtype, c.label)]
    assert len(sel) > 30, subtype_or_label
    return sum(bool(pred(c)) for c in sel) / len(sel)


def test_two_lesions_of_one_patient_share_liver_and_anatomy():
    patient = sample_patient(np.random.default_rng(1), label="hcc")
    a = sample_case(np.random.default_rng(2), subtype="hcc_moderate", patient=patient)
    b = sample_case(np.random.default_rng(3), label="benign", patient=patient)
    assert a.kinetics == b.kinetics == patient.kinetics
    assert a.anatomy == b.anatomy == patient.anatomy and a.anatomy.cirrhotic == patient.cirrhotic
    assert a.lesion != b.lesion and b.label == "benign"


def test_same_generator_state_gives_the_same_case():
    assert sample_case(np.random.default_rng(7)) == sample_case(np.random.default_rng(7))


def test_bad_arguments_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown label"):
        sample_patient(rng, label="cyst")
    with pytest.raises(ValueError, match="no textbook picture"):
        sample_case(rng, subtype="benign_other", textbook=True)
    with pytest.raises(ValueError, match="is hcc, not benign"):
        sample_case(rng, label="benign", subtype="hcc_well")


TEXTBOOK = {  # subtype: (arterial patterns, washout onset window (s), Kupffer content window, malignant)
    "hcc_moderate": (("homogeneous", "mosaic"), (60.0, 180.0), (0.0, 0.5), True),
    "metastasis": (("rim",), (20.0, 60.0), (0.0, 0.15), True),
    "hemangioma": (("nodular",), (math.inf, math.inf), (0.7, 1.1), False),
    "fnh": (("spoke",), (math.inf, math.inf), (0.85, 1.3), False),
}


@pytest.mark.parametrize("subtype", sorted(TEXTBOOK))
def test_textbook_cases_read_as_the_textbook(subtype):
    patterns, (w_lo, w_hi), (k_lo, k_hi), malignant = TEXTBOOK[subtype]
    for seed in range(12):
        c = sample_case(np.random.default_rng(seed), subtype=subtype, textbook=True)
        les = c.lesion
        assert les.pattern in patterns
        assert w_lo <= les.t_washout <= w_hi
        assert k_lo <= les.kupffer <= k_hi
        # the noise-free washout degree is on the right side of the reader's "washout" cut
        degree, _ = washout_degree_db(c)
        assert (degree > CUTS_DB[POSITIVE_FROM - 2]) == malignant, degree


def test_textbook_label_draws_only_subtypes_with_a_textbook_picture():
    seen = {sample_case(np.random.default_rng(s), label=lab, textbook=True).subtype
            for s in range(40) for lab in ("benign", "hcc", "non_hcc_malignant")}
    assert seen == {name for name, st in SUBTYPES.items() if st.textbook}
    assert sample_case(np.random.default_rng(0), label="hcc", textbook=True).anatomy.cirrhotic
    assert not sample_case(np.random.default_rng(0), label="benign", textbook=True).anatomy.cirrhotic


def test_each_subtype_keeps_its_typical_pattern_as_the_commonest(cohort):
    typical = {"hemangioma": "nodular", "fnh": "spoke", "metastasis": "rim", "icc": "rim"}
    for subtype, pattern in typical.items():
        sel = [c.lesion.pattern for c in cohort if c.subtype == subtype]
        assert max(set(sel), key=sel.count) == pattern, subtype


def test_patterns_are_shared_across_classes(cohort):
    assert _share(cohort, "hcc", lambda c: c.lesion.pattern == "rim") > 0.04
    assert _share(cohort, "hcc", lambda c: c.lesion.pattern == "nodular") > 0.05
    assert _share(cohort, "non_hcc_malignant", lambda c: c.lesion.pattern == "nodular") > 0.05
    assert _share(cohort, "benign", lambda c: c.lesion.pattern == "rim") > 0.05
    for label in ("benign", "hcc", "non_hcc_malignant"):
        assert _share(cohort, label, lambda c: c.lesion.pattern == "homogeneous") > 0.2, label


def test_b_mode_cues_overlap(cohort):
    assert _share(cohort, "fnh", lambda c: c.lesion.halo > 0.1) > 0.2
    assert _share(cohort, "benign_other", lambda c: c.lesion.halo > 0.1) > 0.2
    assert _share(cohort, "metastasis", lambda c: c.lesion.halo == 0.0) > 0.25
    assert _share(cohort, "metastasis", lambda c: c.lesion.echo > 1.25) > 0.15
    assert _share(cohort, "hcc", lambda c: c.lesion.echo > 1.25) > 0.1
    assert _share(cohort, "hemangioma", lambda c: 0.85 <= c.lesion.echo <= 1.2) > 0.25
    for label in ("benign", "hcc", "non_hcc_malignant"):
        assert _share(cohort, label, lambda c: c.lesion.edge_px > 1.6) > 0.1, label


def test_kinetics_overlap(cohort):
    assert _share(cohort, "hcc_moderate", lambda c: math.isinf(c.lesion.t_washout)) > 0.08
    assert _share(cohort, "hemangioma", lambda c: math.isfinite(c.lesion.t_washout)) > 0.25
    assert _share(cohort, "benign", lambda c: c.lesion.kupffer < 0.75) > 0.25  # partial Kupffer defect
    assert _share(cohort, "hcc_well", lambda c: c.lesion.kupffer > 0.9) > 0.2  # nearly iso at 10 min


def test_sizes_overlap_across_subtypes(cohort):
    ranges = {s: [c.lesion.diameter_cm for c in cohort if c.subtype == s] for s in SUBTYPES}
    for s, d in ranges.items():
        assert min(d) < 1.6 and max(d) > 3.0, s


def test_cirrhosis_is_more_common_with_hcc_but_its_liver_overlaps_normal_ones(cohort):
    def cirrhotic(c):
        return c.anatomy.cirrhotic

    assert _share(cohort, "hcc", cirrhotic) > _share(cohort, "benign", cirrhotic) + 0.2
    cir = [c for c in cohort if c.anatomy.cirrhotic]
    nor = [c for c in cohort if not c.anatomy.cirrhotic]
    for get in (lambda c: c.anatomy.texture_sigma, lambda c: c.anatomy.texture_scale_cm,
                lambda c: c.anatomy.brightness, lambda c: c.kinetics.arterial_fraction,
                lambda c: c.kinetics.kupffer_max):
        a, b = np.array([get(c) for c in cir]), np.array([get(c) for c in nor])
        lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
        # a good share of either group lies where the two ranges overlap
        assert ((a >= lo) & (a <= hi)).mean() > 0.3 and ((b >= lo) & (b <= hi)).mean() > 0.3


def test_lesion_vascularity_varies_within_a_subtype(cohort):
    v = np.array([c.lesion.v_art for c in cohort if c.subtype == "hcc_moderate"])
    assert v.max() / v.min() > 4.0

