"""Synchronized augmentation: the nine slot images of a case move together; missing slots stay zero."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceusdesk.preprocess import InputSpec
from ceusdesk.protocol import default_protocol
from trainer.augment import AugmentConfig, synchronized_augment
from trainer.data import phase_combinations, slot_keep

SPEC = InputSpec(size=32)
STRONG = AugmentConfig(
    rotate_deg=25, translate=0.1, zoom=(0.8, 1.3), flip_p=0.5, gain=0.1, contrast=(0.8, 1.2), early_drop=0.0
)


def _batch(seed: int, n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Each case: one random image repeated in all nine slots, some slots missing (zero, mask 0)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 1, 32, 32, generator=g)
    base[:, :, 10:14, 20:24] = 1.0  # a bright landmark
    images = ((base - SPEC.mean) / SPEC.std).repeat(1, 9, 1, 1)
    mask = (torch.rand(n, 9, generator=g) > 0.3).float()
    mask[:, 0] = 1.0
    return images * mask[:, :, None, None], mask


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1))
def test_nine_images_stay_aligned(seed):
    images, mask = _batch(seed)
    out, out_mask = synchronized_augment(images, mask, SPEC, STRONG, gen=torch.Generator().manual_seed(seed))
    assert torch.equal(out_mask, mask)
    for case in range(len(out)):
        present = mask[case].bool()
        ref = out[case, present][0]
        # identical inputs under one shared transform stay identical in every present slot
        assert torch.allclose(out[case, present], ref.expand_as(out[case, present]), atol=1e-6)
        assert torch.count_nonzero(out[case, ~present]) == 0
    assert not torch.allclose(out, images, atol=1e-3)  # it did transform something


def test_identity_config_changes_nothing():
    images, mask = _batch(1)
    out, _ = synchronized_augment(images, mask, SPEC, AugmentConfig.identity())
    assert torch.allclose(out, images, atol=1e-5)


def test_zoom_out_pads_with_black_like_the_roi_crop():
    images, mask = _batch(2, n=1)
    cfg = AugmentConfig(
        flip_p=0, rotate_deg=0, translate=0, zoom=(0.5, 0.5), gain=0, contrast=(1, 1), early_drop=0
    )
    out, _ = synchronized_augment(images, mask, SPEC, cfg)
    black = (0.0 - SPEC.mean) / SPEC.std
    assert out[0, 0, 0, 0].item() == pytest.approx(black, abs=1e-5)


def test_early_drop_hides_slots_after_two_minutes():
    protocol = default_protocol()
    keep = torch.from_numpy(slot_keep(protocol, phase_combinations(protocol)["early"])).bool()
    images, _ = _batch(3, n=6)
    mask = torch.ones(6, 9)
    images = images + 0.0
    cfg = AugmentConfig(early_drop=1.0)
    out, out_mask = synchronized_augment(images, mask, SPEC, cfg, early_keep=keep)
    assert out_mask[:, keep].eq(1).all() and out_mask[:, ~keep].eq(0).all()
    assert torch.count_nonzero(out[:, ~keep]) == 0
    assert np.all(keep.numpy() == [True, True, True, True, False, False, False, False, False])
