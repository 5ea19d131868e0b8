"""The triple-ResNet50 on nine phase images, and the single-ResNet50 "referential standard" model.

Each branch is a torchvision ``resnet50`` whose three input channels are three slot images (grouped as
the protocol's ``branches``). Branch features (2048 each) are concatenated with the phase-availability
mask and classified into benign / HCC / non-HCC malignant. Both models take the same inputs
(``images`` [N, n_slots, S, S], ``mask`` [N, n_slots]) and return logits [N, 3].
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet50

from ceusdesk.base.classes import CLASSES  # noqa: F401  re-exported: the one class list (model output order)
from ceusdesk.base.protocol import Protocol
from ceusdesk.model_package.manifest import sha256_file

log = logging.getLogger(__name__)

# torchvision publishes ResNet50 ImageNet weights under names carrying their sha256 prefix
# (resnet50-<prefix>.pth); torch.hub.check_hash verifies exactly that prefix.
TORCHVISION_RESNET50_SHA256_PREFIXES = {
    "0676ba61": "IMAGENET1K_V1 (resnet50-0676ba61.pth)",
    "11ad3fa6": "IMAGENET1K_V2 (resnet50-11ad3fa6.pth)",
}


class PretrainedWeightsError(ValueError):
    pass


def load_pretrained_resnet50(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a torchvision ResNet50 ImageNet state dict after checking its sha256 against torchvision's."""
    path = Path(path)
    if not path.is_file():
        raise PretrainedWeightsError(f"{path}: no such weights file")
    digest = sha256_file(path)
    if digest[:8] not in TORCHVISION_RESNET50_SHA256_PREFIXES:
        raise PretrainedWeightsError(
            f"{path}: sha256 {digest[:16]}… matches no published torchvision ResNet50 weights "
            f"({', '.join(TORCHVISION_RESNET50_SHA256_PREFIXES.values())}); refusing to load it"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    log.info("pretrained ResNet50 weights verified: %s", TORCHVISION_RESNET50_SHA256_PREFIXES[digest[:8]])
    return state


def _backbone(state: dict[str, torch.Tensor] | None) -> nn.Module:
    net = resnet50(weights=None)
    if state is not None:
        net.load_state_dict(state)
    net.fc = nn.Identity()
    return net


class TripleResNet50(nn.Module):
    """Three ResNet50 branches in parallel, one per group of three slots, plus the availability mask."""

    def __init__(self, branches: Sequence[Sequence[int]], n_slots: int, n_classes: int = 3,
                 pretrained: dict[str, torch.Tensor] | None = None, dropout: float = 0.3):
        super().__init__()
        if any(len(b) != 3 for b in branches):
            raise ValueError(f"each branch takes exactly three slots, got {branches}")
        for i, b in enumerate(branches):
            self.register_buffer(f"branch_idx_{i}", torch.tensor(list(b), dtype=torch.long), persistent=False)
        self.n_branches = len(branches)
        self.branches = nn.ModuleList(_backbone(pretrained) for _ in branches)
        feat = 2048 * len(branches) + n_slots
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(feat, 256), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(256, n_classes))

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        feats = []
        for i, net in enumerate(self.branches):
            idx = getattr(self, f"branch_idx_{i}")
            feats.append(net(images.index_select(1, idx)))
        feats.append(mask)
        return self.head(torch.cat(feats, dim=1))


class SingleResNet50(nn.Module):
    """The referential standard model: one ResNet50 whose three channels are three phases."""

    def __init__(self, slots: Sequence[int], n_classes: int = 3,
                 pretrained: dict[str, torch.Tensor] | None = None):
        super().__init__()
        if len(slots) != 3:
            raise ValueError(f"the referential model takes exactly three slots, got {slots}")
        self.register_buffer("slot_idx", torch.tensor(list(slots), dtype=torch.long), persistent=False)
        self.net = _backbone(pretrained)
        self.head = nn.Linear(2048, n_classes)

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(images.index_select(1, self.slot_idx)))


REFERENTIAL_SLOTS = ("0:30", "2:00", "10:00")  # arterial, late vascular, Kupffer: one of each regime


def build_model(arch: str, protocol: Protocol, pretrained: str | Path | None = None) -> nn.Module:
    """``arch``: ``triple`` (the study's model) or ``single`` (referential standard)."""
    state = load_pretrained_resnet50(pretrained) if pretrained else None
    if state is None:
        log.warning("no --pretrained weights given: ResNet50 branches start from random initialization")
    names = protocol.slot_names
    if arch == "triple":
        branches = [[names.index(s) for s in b] for b in protocol.branches]
        return TripleResNet50(branches, n_slots=len(names), pretrained=state)
    if arch == "single":
        return SingleResNet50([names.index(s) for s in REFERENTIAL_SLOTS], pretrained=state)
    raise ValueError(f"unknown architecture {arch!r}: use 'triple' or 'single'")


def output_layer(model: nn.Module) -> nn.Linear:
    """The linear layer that produces the logits (triple: the head's last; single: the head)."""
    head = model.head
    layer = head[-1] if isinstance(head, nn.Sequential) else head
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"{type(model).__name__}: its output layer is {type(layer).__name__}, not Linear")
    return layer


@torch.no_grad()
def correct_prior(model: nn.Module, class_weights: Sequence[float]) -> None:
    """Undo the class weights of the training loss in the model's outputs (logit adjustment).

    Weighted cross-entropy makes the softmax estimate p(c|x)·w_c (renormalized): classes with small
    weights (HCC, the commonest) lose probability to the others. Subtracting log w_c from the logits —
    folded into the output layer's bias, so the exported graph is unchanged in shape — gives the
    posteriors under the cohort's own class mix again.
    """
    w = torch.as_tensor(list(class_weights), dtype=torch.float32)
    layer = output_layer(model)
    layer.bias -= torch.log(w).to(layer.bias.device, layer.bias.dtype)


class WithSoftmax(nn.Module):
    """Export wrapper: logits → probabilities (Softmax stays float in the int8 graph)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(images, mask), dim=1)
