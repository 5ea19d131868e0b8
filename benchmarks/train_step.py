"""Training throughput of the triple-ResNet50 on this machine: which precision and memory format to use.

    .venv/bin/python -m benchmarks.train_step [--size 64] [--batch-size 16] [--steps 12] [--json OUT]

Measures, in one run and on the same random inputs, optimizer steps per second for each variant
(fp32, fp32 channels-last, bf16 autocast, bf16 autocast channels-last), and checks that each agrees
with fp32 from the same weights: the largest difference of the softmax probabilities (eval mode), and
the relative difference of the first training step's loss and gradient norm (same dropout draws).
A variant is worth keeping only if it is faster *and* agrees (the trainer's ``--precision`` and
``--channels-last`` defaults come from this, docs/trainer.md).
Not a test: speeds differ between machines; ratios within one run are what count.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch import nn

from ceusdesk.base.protocol import default_protocol
from trainer.model import build_model

VARIANTS = {"fp32": (None, False), "fp32-channels-last": (None, True), "bf16": (torch.bfloat16, False),
            "bf16-channels-last": (torch.bfloat16, True)}


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, m: torch.Tensor, y: torch.Tensor,
          amp: torch.dtype | None, channels_last: bool) -> tuple[float, float]:
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=amp or torch.bfloat16, enabled=amp is not None):
        loss = nn.functional.cross_entropy(model(x, m).float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
    opt.step()
    return float(loss.detach()), norm


def run(size: int, batch: int, steps: int, warmup: int = 2) -> dict:
    protocol = default_protocol()
    n = len(protocol.slot_names)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, n, size, size, generator=g)
    m = torch.ones(batch, n)
    y = torch.randint(0, 3, (batch,), generator=g)
    torch.manual_seed(0)
    init = build_model("triple", protocol).state_dict()
    out: dict[str, dict] = {}
    for name, (amp, cl) in VARIANTS.items():
        model = build_model("triple", protocol)
        model.load_state_dict(init)
        if cl:
            model = model.to(memory_format=torch.channels_last)
        model.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp is not None):
            xi = x.contiguous(memory_format=torch.channels_last) if cl else x
            probs = torch.softmax(model(xi, m).float(), 1)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
        torch.manual_seed(1)  # the same dropout draws in every variant's first step
        first = _step(model, opt, x, m, y, amp, cl)
        for _ in range(warmup - 1):
            _step(model, opt, x, m, y, amp, cl)
        t0 = time.perf_counter()
        for _ in range(steps):
            _step(model, opt, x, m, y, amp, cl)
        dt = time.perf_counter() - t0
        out[name] = {"steps_per_s": steps / dt, "cases_per_s": steps * batch / dt,
                     "first_loss": first[0], "first_grad_norm": first[1], "probs": probs}
    ref = out["fp32"]
    for r in out.values():
        r["speedup_vs_fp32"] = r["steps_per_s"] / ref["steps_per_s"]
        r["loss_rel_diff"] = abs(r["first_loss"] - ref["first_loss"]) / abs(ref["first_loss"])
        r["grad_norm_rel_diff"] = abs(r["first_grad_norm"] - ref["first_grad_norm"]) / ref["first_grad_norm"]
        r["max_prob_diff"] = float((r["probs"] - ref["probs"]).abs().max())
    for r in out.values():
        del r["probs"]
    return {"size": size, "batch_size": batch, "steps": steps, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
            "variants": out}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--json", type=Path, default=None, help="also write the result here")
    a = p.parse_args()
    doc = run(a.size, a.batch_size, a.steps)
    for name, r in doc["variants"].items():
        print(f"{name:20s} {r['steps_per_s']:.3f} steps/s ({r['cases_per_s']:.1f} cases/s, "
              f"x{r['speedup_vs_fp32']:.2f}); first loss Δ {r['loss_rel_diff']:.2e}, grad norm Δ "
              f"{r['grad_norm_rel_diff']:.2e}, max |Δp| {r['max_prob_diff']:.2e}")
    if a.json:
        a.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
