"""The manifest reader/writer and file verification (torch-free: the app uses them), and session options."""
from __future__ import annotations

import json

import pytest

from ceusdesk.base.errors import ModelRefused
from ceusdesk.inference import runtime
from ceusdesk.model_package import manifest as mf
from tests.tiny_package import make_tiny_package


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return make_tiny_package(tmp_path_factory.mktemp("pkg"))


def test_tiny_package_round_trips_and_verifies(package):
    man = mf.read_manifest(package.parent)  # a folder means its manifest.json
    mf.verify_files(package, man)
    assert man.files["int8"].path == "model.int8.onnx" and man.research_use_only == mf.RESEARCH_USE_ONLY
    assert json.loads(package.read_text())["files"]["fp32"] == man.files["fp32"].to_dict()


def test_tampered_file_is_refused_naming_it(package, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    for p in package.parent.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    data = bytearray((folder / "model.int8.onnx").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.int8.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelRefused, match=r"model\.int8\.onnx: sha256 .* does not match"):
        mf.verify_files(folder / mf.MANIFEST_NAME, mf.read_manifest(folder))


def test_absent_fp32_not_in_repo_is_fine_but_absent_int8_is_not(package, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "manifest.json").write_bytes(package.read_bytes())
    (folder / "model.int8.onnx").write_bytes((package.parent / "model.int8.onnx").read_bytes())
    man = mf.read_manifest(folder)
    assert man.files["fp32"].in_repo is False
    mf.verify_files(folder / mf.MANIFEST_NAME, man)
    (folder / "model.int8.onnx").unlink()
    with pytest.raises(ModelRefused, match="'int8' listed in the manifest is missing"):
        mf.verify_files(folder / mf.MANIFEST_NAME, man)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("threshold"), "missing key 'threshold'"),
    (lambda d: d.update(schema_version=99), "schema_version 99"),
    (lambda d: d["files"].pop("int8"), "'int8'"),
    (lambda d: d["input"].pop("preprocess_version"), "preprocess_version"),
])
def test_malformed_manifest_is_refused_in_one_line(package, tmp_path, edit, message):
    doc = json.loads(package.read_text())
    edit(doc)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelRefused, match=message) as err:
        mf.read_manifest(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_missing_or_broken_manifest_names_the_file(tmp_path):
    with pytest.raises(ModelRefused, match="no model manifest"):
        mf.read_manifest(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ModelRefused, match=r"bad\.json: unreadable"):
        mf.read_manifest(tmp_path / "bad.json")


def test_session_uses_all_optimizations_and_the_requested_threads(package):
    session = runtime.make_session(package.parent / "model.int8.onnx", threads=1)
    opts = session.get_session_options()
    assert opts.intra_op_num_threads == 1
    assert opts.graph_optimization_level == runtime.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert [o.name for o in session.get_outputs()] == ["probabilities"]


def test_physical_cores_counts_cores_not_hyperthreads(tmp_path, monkeypatch):
    text = "".join(f"processor\t: {i}\nphysical id\t: 0\ncore id\t\t: {i % 2}\n"
                   "flags\t\t: avx2 avx512_vnni\n\n" for i in range(4))
    (tmp_path / "cpuinfo").write_text(text)
    monkeypatch.setattr(runtime, "_CPUINFO", tmp_path / "cpuinfo")
    runtime.physical_cores.cache_clear()
    runtime.cpu_flags.cache_clear()
    try:
        assert runtime.physical_cores() == 2
        assert runtime.has_vnni() is True
    finally:
        runtime.physical_cores.cache_clear()
        runtime.cpu_flags.cache_clear()
