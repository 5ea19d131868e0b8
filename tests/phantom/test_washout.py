"""The simulated expert washout score lands near published reader performance."""
import numpy as np
import pytest

from ceusdesk.phantom.cohort import case_seed, cohort_labels
from ceusdesk.phantom.params import sample_case
from ceusdesk.phantom.washout import POSITIVE_FROM, washout_score


def _operating_point(cases: int, seed: int) -> tuple[float, float, np.ndarray]:
    labels = cohort_labels(cases, seed, (48, 78, 55))
    scores, malignant = [], []
    for i, label in enumerate(labels):
        s = case_seed(seed, i)
        # the same draws synthesize_case makes for this case
        scores.append(washout_score(sample_case(np.random.default_rng([s, 0]), label=label),
                                    np.random.default_rng([s, 5])))
        malignant.append(label != "benign")
    scores, malignant = np.array(scores), np.array(malignant)
    pos = scores >= POSITIVE_FROM
    return (pos & malignant).sum() / malignant.sum(), (~pos & ~malignant).sum() / (~malignant).sum(), scores


def test_washout_rule_operating_point_on_200_cases():
    sens, spec, scores = _operating_point(200, seed=2024)
    assert 0.80 <= sens <= 0.95, sens
    assert 0.50 <= spec <= 0.78, spec  # 200 cases: the 2000-case band below, widened for sampling spread
    assert set(np.unique(scores)) == {1, 2, 3, 4, 5}


@pytest.mark.slow
def test_washout_rule_operating_point_on_2000_cases():
    sens, spec, _ = _operating_point(2000, seed=7)
    assert 0.80 <= sens <= 0.92, sens  # issue 15's target band for the phantom's reader
    assert 0.55 <= spec <= 0.75, spec
