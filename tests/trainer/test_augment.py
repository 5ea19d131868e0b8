"""Synchronized augmentation: the nine slot images of a case move together; missing slots stay zero."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.preprocess import InputSpec
from trainer.augment import AugmentConfig, phase_dropout, synchronized_augment
from trainer.data import gap_slots, phase_combinations, slot_keep

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


def test_gapped_full_keeps_early_and_kupffer_and_drops_some_late_slots():
    protocol = default_protocol()
    early = torch.from_numpy(slot_keep(protocol, phase_combinations(protocol)["early"])).bool()
    gap = torch.from_numpy(slot_keep(protocol, gap_slots(protocol))).bool()
    mask = torch.ones(400, 9)
    mask[:50, 5] = 0.0  # studies that truly lack the 4:00 clip
    cfg = AugmentConfig(early_drop=0.0, gapped_drop=1.0)
    out = phase_dropout(mask, cfg, early, gap, torch.Generator().manual_seed(0))
    assert out[:, ~gap].eq(mask[:, ~gap]).all()  # B … 2:00 and 10:00 untouched
    dropped = (out[:, gap] == 0).sum(1)
    assert (dropped >= 1).all()  # at least one 3-6 min slot missing in every gapped case
    assert dropped.max() == 4 and (dropped == 1).any()  # any subset, from one to all four
    assert out[:50, 5].eq(0).all()  # a truly missing slot never comes back


def test_phase_dropout_mixes_early_gapped_and_full():
    protocol = default_protocol()
    early = torch.from_numpy(slot_keep(protocol, phase_combinations(protocol)["early"])).bool()
    gap = torch.from_numpy(slot_keep(protocol, gap_slots(protocol))).bool()
    out = phase_dropout(torch.ones(2000, 9), AugmentConfig(), early, gap, torch.Generator().manual_seed(1))
    kupffer_missing = out[:, -1] == 0  # early-only
    gapped = (out[:, -1] == 1) & (out[:, gap] == 0).any(1)
    full = out.eq(1).all(1)
    assert 0.2 < kupffer_missing.float().mean() < 0.3 and 0.2 < gapped.float().mean() < 0.3
    assert 0.45 < full.float().mean() < 0.55


def _context_batch(size: int = 32):
    """A context crop 3x the ROI with a bright square off-centre, and its exact central ROI image."""
    big = 3 * size
    ctx = torch.zeros(1, 9, big, big, dtype=torch.uint8)
    ctx[..., big // 2 - 4 : big // 2 + 4, big // 2 - 4 : big // 2 + 12] = 200
    ctx[..., 5:15, 5:15] = 120  # far outside the ROI: only a zoomed-out jitter can show it
    lo = (big - size) // 2
    exact = (ctx[..., lo : lo + size, lo : lo + size].float() / 255 - SPEC.mean) / SPEC.std
    return ctx, torch.full((1, 9), size / big), exact


def test_unjittered_context_sampling_reproduces_the_roi_image():
    ctx, scale, exact = _context_batch()
    cfg = AugmentConfig.identity()
    out, _ = synchronized_augment(exact, torch.ones(1, 9), SPEC, cfg, context=ctx, ctx_scale=scale)
    assert torch.allclose(out, exact, atol=1e-4)


def test_roi_jitter_moves_the_roi_identically_in_all_nine_slots():
    ctx, scale, exact = _context_batch()
    cfg = AugmentConfig(flip_p=0, rotate_deg=0, translate=0, zoom=(1, 1), gain=0, contrast=(1, 1),
                        early_drop=0, gapped_drop=0, roi_shift=0.2, roi_scale=(1.5, 1.56))
    mask = torch.ones(1, 9)
    mask[0, 4] = 0.0
    out, _ = synchronized_augment(exact, mask, SPEC, cfg, gen=torch.Generator().manual_seed(3), context=ctx,
                                  ctx_scale=scale)
    present = mask[0].bool()
    assert not torch.allclose(out[0, 0], exact[0, 0], atol=1e-2)  # the ROI moved / grew
    assert torch.allclose(out[0, present], out[0, 0].expand_as(out[0, present]))  # synchronized
    assert torch.count_nonzero(out[0, ~present]) == 0
