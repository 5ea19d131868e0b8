"""packaging/ceusdesk.spec, executed with stand-ins for PyInstaller's build objects: what it hands them."""
import json
import shutil
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# what PyInstaller's analysis might have found: the spec must prune the never-bundled and unused parts
FOUND_BINARIES = [
    ("torch/lib/libtorch_cpu.so", "/v/torch/lib/libtorch_cpu.so", "BINARY"),
    ("PySide6/Qt/plugins/platforms/libqxcb.so", "/v/libqxcb.so", "BINARY"),
    ("PySide6/Qt/plugins/platforms/libqwayland-egl.so", "/v/libqwayland-egl.so", "BINARY"),
    ("onnxruntime/capi/onnxruntime_pybind11_state.so", "/v/ort.so", "EXTENSION"),
]
FOUND_DATAS = [
    ("PySide6/Qt/translations/qtbase_fr.qm", "/v/qtbase_fr.qm", "DATA"),
    ("pydicom/data/palettes/pet.dcm", "/v/pet.dcm", "DATA"),
]


class Recorder:
    def __init__(self):
        self.calls = {}

    def make(self, kind):
        recorder = self

        class Fake:
            def __init__(self, *args, **kwargs):
                recorder.calls[kind] = (args, kwargs)
                self.binaries, self.datas = list(FOUND_BINARIES), list(FOUND_DATAS)
                self.pure, self.scripts = ["pure"], ["scripts"]

        return Fake


def run_spec(spec_dir: Path, monkeypatch) -> dict:
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.copy_metadata = lambda dist: [(f"/site/{dist}.dist-info", f"{dist}.dist-info")]
    bindepend = types.ModuleType("PyInstaller.depend.bindepend")
    bindepend.get_imports = lambda src: set()
    for name, module in {"PyInstaller": types.ModuleType("PyInstaller"),
                         "PyInstaller.utils": types.ModuleType("PyInstaller.utils"),
                         "PyInstaller.utils.hooks": hooks,
                         "PyInstaller.depend": types.ModuleType("PyInstaller.depend"),
                         "PyInstaller.depend.bindepend": bindepend}.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "bundle_rules", raising=False)
    rec = Recorder()
    namespace = {"SPECPATH": str(spec_dir), "__name__": "__main__",
                 **{k: rec.make(k) for k in ("Analysis", "PYZ", "EXE", "COLLECT")}}
    code = compile((spec_dir / "ceusdesk.spec").read_text(), str(spec_dir / "ceusdesk.spec"), "exec")
    exec(code, namespace)
    return rec.calls


@pytest.fixture
def fake_repo(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "packaging", root / "packaging",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "ceusdesk").symlink_to(REPO / "ceusdesk")
    pkg = root / "exports" / "tiny"
    pkg.mkdir(parents=True)
    (pkg / "model.int8.onnx").write_bytes(b"onnx")
    (pkg / "manifest.json").write_text(json.dumps({"quantization": {"forced": False}, "files": {
        "int8": {"path": "model.int8.onnx", "sha256": "0" * 64},
        "fp32": {"path": "model.fp32.onnx", "sha256": "1" * 64, "in_repo": False}}}))
    return root


def test_spec_excludes_what_the_bundle_never_carries(fake_repo, monkeypatch):
    _args, kwargs = run_spec(fake_repo / "packaging", monkeypatch)["Analysis"]
    excludes = set(kwargs["excludes"])
    assert {"torch", "torchvision", "onnx", "sympy", "matplotlib", "tests", "trainer", "pytest"} <= excludes
    assert "PySide6.QtNetwork" in excludes and "PySide6.QtWidgets" not in excludes


def test_spec_bundles_the_model_package_protocols_and_decoder_metadata(fake_repo, monkeypatch):
    args, kwargs = run_spec(fake_repo / "packaging", monkeypatch)["Analysis"]
    datas = set(kwargs["datas"])
    pkg = fake_repo / "exports" / "tiny"
    assert (str(pkg / "manifest.json"), "exports/tiny") in datas
    assert (str(pkg / "model.int8.onnx"), "exports/tiny") in datas
    assert not any("fp32" in src for src, _dest in datas)
    protocol_json = fake_repo / "ceusdesk" / "base" / "protocols" / "sonazoid-9.json"
    assert (str(protocol_json), "ceusdesk/base/protocols") in datas
    assert ("/site/pylibjpeg-libjpeg.dist-info", "pylibjpeg-libjpeg.dist-info") in datas
    assert Path(args[0][0]).is_file() and kwargs["pathex"] == [str(fake_repo)]
    assert "ceusdesk.cli.inspect" in kwargs["hiddenimports"]
    assert all(Path(hook).is_file() for hook in kwargs["runtime_hooks"])


def test_spec_prunes_before_collecting(fake_repo, monkeypatch):
    calls = run_spec(fake_repo / "packaging", monkeypatch)
    args, kwargs = calls["COLLECT"]
    collected = {dest for toc in args[1:] for dest, _src, _t in toc}
    assert "torch/lib/libtorch_cpu.so" not in collected
    assert "PySide6/Qt/plugins/platforms/libqwayland-egl.so" not in collected
    assert "PySide6/Qt/translations/qtbase_fr.qm" not in collected
    assert {"PySide6/Qt/plugins/platforms/libqxcb.so", "pydicom/data/palettes/pet.dcm"} <= collected
    assert kwargs["name"] == "ceusdesk" and calls["EXE"][1]["name"] == "ceusdesk"
    assert kwargs["upx"] is False


def test_spec_accepts_the_repos_exports_folder(monkeypatch):
    """The real exports/ must be bundle-able: one package, or CEUSDESK_DEFAULT_MODEL naming one."""
    packages = sorted(p.parent.name for p in (REPO / "exports").glob("*/manifest.json"))
    if not packages:
        pytest.skip("exports/ holds no model package yet: nothing to bundle")
    _args, kwargs = run_spec(REPO / "packaging", monkeypatch)["Analysis"]
    dests = {dest for _src, dest in kwargs["datas"]}
    assert any(d.startswith("exports/") for d in dests), packages
