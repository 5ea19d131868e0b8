"""Export: ONNX + int8 + package, on a tiny model with the real model's interface (seconds per test)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.preprocess import InputSpec
from ceusdesk.inference.runtime import make_session
from ceusdesk.model_package import manifest as mf
from trainer import export

SIZE = 32


class TinyNet(nn.Module):
    """trainer.model-compatible: images [N, 9, S, S] + mask [N, 9] → logits [N, 3], with index_select."""

    def __init__(self, n_slots: int = 9):
        super().__init__()
        self.register_buffer("idx", torch.arange(n_slots - 1, -1, -1), persistent=False)
        self.features = nn.Sequential(nn.Conv2d(n_slots, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, padding=1, stride=2), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(8 + n_slots, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(images.index_select(1, self.idx)), mask], dim=1))


def tiny_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return TinyNet().eval()


def chunks(n: int, seed: int, chunk: int = 4):
    def make():
        rng = np.random.default_rng(seed)
        for start in range(0, n, chunk):
            k = min(chunk, n - start)
            mask = np.ones((k, 9), dtype=np.float32)
            mask[::2, -1] = 0.0
            images = rng.normal(0, 1, (k, 9, SIZE, SIZE)).astype(np.float32) * mask[:, :, None, None]
            yield images, mask
    return make


def info(**kw) -> export.PackageInfo:
    base = dict(name="tiny", version="1", protocol=default_protocol(), spec=InputSpec(size=SIZE),
                threshold=0.42, training={"how": "test"}, metrics=[{"name": "full", "auc": 0.9}],
                calibration_source="random test inputs")
    return export.PackageInfo(**{**base, **kw})


def build(out: Path, **kw) -> mf.Manifest:
    return export.make_package(tiny_model(), info(), out, calibration=chunks(12, 1), heldout=chunks(8, 2),
                               n_calibration_wanted=12, **kw)


def test_package_is_complete_verified_and_faithful(tmp_path):
    man = build(tmp_path / "pkg")
    read = mf.read_manifest(tmp_path / "pkg")
    assert read == man
    mf.verify_files(tmp_path / "pkg" / mf.MANIFEST_NAME, read)  # every sha256 matches the files on disk
    assert set(read.files) == {"int8", "fp32"} and read.files["fp32"].in_repo  # tiny: fits in git
    q = read.quantization
    assert (q.format, q.activations, q.weights, q.per_channel) == ("QDQ", "QUInt8", "QInt8", True)
    assert not q.forced
    assert q.calibration["n_cases"] == 12 and "note" not in q.calibration
    assert q.agreement_with_fp32 >= 0.99 and q.n_compared == 16  # 8 held-out cases, full + early inputs
    assert q.comparison["torch_vs_ort_fp32_max_abs_delta"] < 1e-4
    assert read.threshold == 0.42 and read.classes == mf.CLASSES
    assert read.input["size"] == SIZE and read.input["names"] == {"images": "images", "mask": "mask"}
    assert read.protocol == default_protocol().to_dict()

    session = make_session(tmp_path / "pkg" / read.files["int8"].path)
    shapes = {i.name: i.shape for i in session.get_inputs()}
    assert shapes["images"][1:] == [9, SIZE, SIZE] and not isinstance(shapes["images"][0], int)
    assert shapes["mask"][1:] == [9] and not isinstance(shapes["mask"][0], int)
    images, mask = next(chunks(5, 9, chunk=5)())
    probs = session.run(["probabilities"], {"images": images, "mask": mask})[0]
    assert probs.shape == (5, 3) and np.all(np.abs(probs.sum(1) - 1) <= 1e-5)


def test_softmax_and_logits_stay_float_in_int8_graph(tmp_path):
    build(tmp_path / "pkg")
    graph = onnx.load(str(tmp_path / "pkg" / export.INT8_FILE)).graph
    producer = {o: n for n in graph.node for o in n.output}
    softmax = producer["probabilities"]
    assert softmax.op_type == "Softmax"
    logits = producer[softmax.input[0]]
    assert logits.op_type in ("Gemm", "MatMul")
    weights = {i.name for i in graph.initializer}
    assert logits.input[1] in weights  # float weights, not a DequantizeLinear output
    assert sum(n.op_type == "QuantizeLinear" for n in graph.node) > 0
    assert any(n.op_type == "DequantizeLinear" and n.output[0] in producer and
               any(n.output[0] in c.input for c in graph.node if c.op_type == "Conv") for n in graph.node)


def test_each_export_gets_a_new_uid(tmp_path):
    a, b = build(tmp_path / "a"), build(tmp_path / "b")
    assert a.uid != b.uid


def test_low_agreement_refuses_unless_forced(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "MIN_AGREEMENT", 1.01)  # no int8 model can reach it
    with pytest.raises(export.ExportError, match="agrees with fp32"):
        build(tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()
    assert not list(tmp_path.glob(".tmp-*"))  # the staging folder is cleaned up
    man = build(tmp_path / "pkg", force=True)
    assert man.quantization.forced and mf.read_manifest(tmp_path / "pkg").quantization.forced


def test_forced_package_never_goes_to_exports():
    with pytest.raises(export.ExportError, match="exports/"):
        build(export.REPO_EXPORTS / "should-not-exist", force=True)
    assert not (export.REPO_EXPORTS / "should-not-exist").exists()


def test_large_fp32_is_kept_out_of_git(tmp_path, monkeypatch):
    monkeypatch.setattr(export, "FP32_IN_REPO_MAX_BYTES", 10)
    man = build(tmp_path / "pkg")
    assert man.files["fp32"].in_repo is False
    assert (tmp_path / "pkg" / ".gitignore").read_text().split() == [export.FP32_FILE]


def test_refuses_to_overwrite_a_folder_that_is_not_a_package(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "notes.txt").write_text("mine")
    with pytest.raises(export.ExportError, match="not a model package"):
        build(tmp_path / "pkg")
    assert (tmp_path / "pkg" / "notes.txt").read_text() == "mine"


def fake_run(root: Path, cohort: Path) -> Path:
    """A fit run directory as trainer.fit writes it, around a TinyNet checkpoint."""
    from trainer.data import read_cases

    ids = [r["case_id"] for r in read_cases(cohort)]
    run = root / "run"
    (run / "final").mkdir(parents=True)
    protocol = default_protocol()
    (run / "config.json").write_text(json.dumps({
        "protocol": protocol.to_dict(), "input": InputSpec(size=SIZE).to_dict(), "arch": "triple",
        "preset": {"name": "smoke", "size": SIZE, "folds": 1, "epochs": 2}, "device": "cpu",
        "data": {"cases_dir": str(cohort), "n": len(ids), "by_class": {}, "skipped": []},
        "git_commit": "abc", "created": "2025-01-01T00:00:00+00:00"}))
    torch.save({"model": tiny_model().state_dict(), "selected_from": "fold0", "threshold": 0.37,
                "thresholds": {"early": 0.31, "full": 0.37}}, run / "final" / "checkpoint.pt")
    fold = np.array([0 if i % 4 == 0 else -1 for i in range(len(ids))])  # fold 1 = 25 % hold-out
    np.savez(run / "oof.npz", ids=np.array(ids), fold=fold)
    (run / "metrics.json").write_text(json.dumps({"rows": [{"name": "full", "sensitivity": 0.9}]}))
    return run


def test_cli_exports_a_run(tmp_path, fake_cohort, monkeypatch):
    monkeypatch.setattr(export, "build_model", lambda arch, protocol: TinyNet())
    run = fake_run(tmp_path, fake_cohort)
    args = export.get_args_parser().parse_args([str(run), "--out", str(tmp_path / "exports" / "demo"),
                                                "--chunk", "5"])
    assert export.main(args) == 0
    man = mf.read_manifest(tmp_path / "exports" / "demo" / mf.MANIFEST_NAME)
    assert man.name == "demo" and man.threshold == 0.37
    assert man.thresholds == {"early": 0.31, "full": 0.37}
    assert man.metrics == [{"name": "full", "sensitivity": 0.9}]
    shipped = tmp_path / "exports" / "demo" / man.files["metrics"].path
    assert json.loads(shipped.read_text()) == json.loads((run / "metrics.json").read_text())
    mf.verify_files(tmp_path / "exports" / "demo", man)
    assert man.training["data"]["seeds"]["available"] is False  # the fake cohort has no synth.json
    calib = man.quantization.calibration
    assert calib["n_cases"] == 18 and "only 18" in calib["note"]  # 24 cases, 6 held out
    assert man.quantization.n_compared == 12  # 6 held-out cases, full + early
    assert "reduced CPU run" in man.training["how"] and "32²" in man.training["how"]


def test_cli_names_a_missing_run_file(tmp_path, caplog):
    args = export.get_args_parser().parse_args([str(tmp_path), "--out", str(tmp_path / "out")])
    assert export.main(args) == 2
    assert "config.json: missing" in caplog.text


def test_training_seeds_come_from_synth_json(tmp_path):
    (tmp_path / "synth.json").write_text(json.dumps({"phantom_version": "phantom v2", "seed": 7,
                                                     "case_seeds": [11, 12]}))
    seeds = export.training_seeds(tmp_path)
    assert seeds["available"] and seeds["seed"] == 7 and seeds["case_seeds"] == [11, 12]
    (tmp_path / "synth.json").write_text("{}")
    with pytest.raises(export.ExportError, match="synth.json: malformed"):
        export.training_seeds(tmp_path)


def test_keep_float_groups_pick_the_named_layers_and_are_recorded(tmp_path):
    from onnx import helper

    from trainer.quantize import float_by_choice

    nodes = [helper.make_node("Conv", ["x", "w"], [f"y{i}"], name=name) for i, name in enumerate((
        "/model/branches.0/conv1/Conv", "/model/branches.2/conv1/Conv",
        "/model/branches.0/layer1/layer1.0/conv2/Conv", "/model/branches.0/layer2/layer2.0/conv1/Conv"))]
    nodes.append(helper.make_node("Gemm", ["y3", "w"], ["z"], name="/model/head/head.1/Gemm"))
    model = helper.make_model(helper.make_graph(nodes, "g", [], []))
    stems = ["/model/branches.0/conv1/Conv", "/model/branches.2/conv1/Conv"]
    assert float_by_choice(model, ["stem"]) == stems
    assert float_by_choice(model, ["layer1", "head"]) == ["/model/branches.0/layer1/layer1.0/conv2/Conv",
                                                           "/model/head/head.1/Gemm"]
    with pytest.raises(ValueError, match="unknown --keep-float"):
        float_by_choice(model, ["layer9"])
    manifest = build(tmp_path / "pkg", keep_float=["head"], calibrate_method="percentile")
    assert manifest.quantization.calibration["kept_float"] == ["logits", "head"]
    assert manifest.quantization.calibration["method"] == "percentile"
