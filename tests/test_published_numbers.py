"""Every model number README.md and docs/results.md quote comes from the package's test.json/metrics.json."""
import json
from pathlib import Path

import pytest

from trainer import published

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "results.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_quoted_tables_match_the_package_files(doc):
    found = published.blocks(doc.read_text(encoding="utf-8"))
    assert found, f"{doc.name} quotes no published block (add the markers, run python -m trainer published)"
    for package, body in found:
        assert (ROOT / package / "manifest.json").is_file(), f"{doc.name} quotes a missing package {package}"
        assert body.strip() == published.render(ROOT / package).strip(), (
            f"{doc.name}: numbers differ from {package}'s test.json/metrics.json; regenerate with "
            f"python -m trainer published {package} --update {doc.relative_to(ROOT)}")


def test_the_quoted_package_is_the_bundled_one():
    quoted = {p for doc in DOCS for p, _ in published.blocks(doc.read_text(encoding="utf-8"))}
    bundled = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "exports").glob("*/manifest.json")}
    assert quoted <= bundled


def _package(tmp_path, sens):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    row = {"name": "full", "n": 10, "sensitivity": sens, "specificity": 0.5, "accuracy_3class": 0.6,
           "auc": 0.8, "sensitivity_ci": [0.7, 0.95], "specificity_ci": [0.3, 0.7],
           "accuracy_3class_ci": [0.4, 0.8], "auc_ci": [0.7, 0.9]}
    (pkg / "test.json").write_text(json.dumps({"n_cases": 10, "rows": [dict(row, name="as_analyzed")]}))
    (pkg / "metrics.json").write_text(json.dumps({"n_cases": 30, "folds": 3, "rows": [row]}))
    (pkg / "manifest.json").write_text(json.dumps({
        "name": "m", "version": "1", "uid": "u", "thresholds": {"early": 0.2, "full": 0.3},
        "files": {"test": {"path": "test.json"}, "metrics": {"path": "metrics.json"}}}))
    return pkg


def test_a_changed_number_is_caught(tmp_path):
    pkg = _package(tmp_path, 0.9)
    doc = f"intro\n{published.BEGIN.format(package='pkg')}\n{published.render(pkg)}\n{published.END}\n"
    assert "90.0 (70.0–95.0)" in doc and "Synthetic phantom data" in doc
    assert published.update(doc, tmp_path) == doc
    other = tmp_path / "again"
    other.mkdir()
    (pkg / "test.json").write_text((_package(other, 0.8) / "test.json").read_text())
    ((_, body),) = published.blocks(doc)
    assert body.strip() != published.render(pkg).strip()
    assert "80.0" in published.update(doc, tmp_path)


def test_a_file_the_manifest_does_not_vouch_for_is_refused(tmp_path, caplog):
    from ceusdesk.model_package.manifest import sha256_file

    pkg = _package(tmp_path, 0.9)
    manifest = json.loads((pkg / "manifest.json").read_text())
    manifest["files"]["test"]["sha256"] = sha256_file(pkg / "test.json")
    (pkg / "manifest.json").write_text(json.dumps(manifest))
    assert "90.0" in published.render(pkg)
    (pkg / "test.json").write_text((pkg / "test.json").read_text().replace("0.9,", "0.99,"))
    with pytest.raises(published.PublishedError, match="sha256 differs"):
        published.render(pkg)
    args = published.get_args_parser().parse_args([str(tmp_path / "missing")])
    assert published.main(args) == 2
    assert "not a readable model package" in caplog.text


def test_every_quoted_auc_recomputes_from_the_packages_per_case_predictions():
    """The bundled package ships its per-case predictions; render() recomputes every AUC it quotes from
    them (and refuses a mismatch), and says how many it checked."""
    quoted = {p for doc in DOCS for p, _ in published.blocks(doc.read_text(encoding="utf-8"))}
    for package in quoted:
        files = json.loads((ROOT / package / "manifest.json").read_text(encoding="utf-8"))["files"]
        assert {"test_predictions", "oof_predictions"} <= set(files), f"{package}: no per-case predictions"
        text = published.render(ROOT / package)
        assert "recomputes from the package's per-case predictions" in text
