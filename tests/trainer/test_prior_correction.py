"""The loss's class weights taken out of the model's outputs: softmax(logits − log w), nothing else."""
import numpy as np
import torch

from ceusdesk.base.protocol import default_protocol
from trainer.model import build_model, correct_prior


def test_correct_prior_divides_each_class_probability_by_its_weight():
    torch.manual_seed(0)
    for arch in ("triple", "single"):
        model = build_model(arch, default_protocol()).eval()
        x, m = torch.rand(4, 9, 32, 32), torch.ones(4, 9)
        with torch.no_grad():
            before = torch.softmax(model(x, m), 1).numpy()
        w = [1.26, 0.77, 1.10]
        correct_prior(model, w)
        with torch.no_grad():
            after = torch.softmax(model(x, m), 1).numpy()
        want = before / np.array(w)
        np.testing.assert_allclose(after, want / want.sum(1, keepdims=True), rtol=1e-5)
        # the class the weights pushed down (here the second) gains
        assert (after[:, 1] > before[:, 1]).all()
