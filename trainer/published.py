"""``python -m trainer published PACKAGE [--update FILE ...]``: the tables README and docs quote.

Every number the README or docs/results.md shows about a model package comes from the package's own
``test.json`` (independent test) and ``metrics.json`` (cross-validation), both listed with their sha256
in the manifest. This module renders those files as Markdown between markers::

    <!-- published:begin exports/NAME -->
    ... generated tables ...
    <!-- published:end -->

and ``tests/test_published_numbers.py`` fails when a quoted block differs from what the files say.
Torch-free: it reads JSON only.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BEGIN = "<!-- published:begin {package} -->"
END = "<!-- published:end -->"
_BLOCK = re.compile(r"<!-- published:begin (?P<package>\S+) -->\n(?P<body>.*?)<!-- published:end -->", re.S)

# rows shown, in this order, when the document has them; everything else stays in the JSON files
TEST_ROWS = ("as_analyzed", "full", "gapped_full", "early", "fused_full", "fused_early")
CV_ROWS = ("full", "gapped_full", "early", "no_b", "kupffer_only", "referential", "fused_full", "fused_early")
ROW_LABELS = {
    "as_analyzed": "as analyzed by the app (each study's own phase set)",
    "full": "full (B → 10 min)",
    "gapped_full": "gapped full (B → 2 min + 10 min)",
    "early": "early (≤ 2 min)",
    "no_b": "no B-mode (0:30 → 10 min)",
    "kupffer_only": "Kupffer phase only",
    "referential": "referential single ResNet50 (full)",
    "fused_full": "model + measured evidence, full",
    "fused_early": "model + measured evidence, early",
}
# the per-case file backing each document, and the tolerance an AUC must recompute within (the CSV keeps
# six significant digits)
CSV_OF = {"test": "test_predictions", "metrics": "oof_predictions"}
AUC_TOLERANCE = 1e-3
STUDY = {"full": "93.2 / 65.3", "early": "90.2 / 61.2"}  # Kamiyama et al. 2024, sensitivity / specificity


def _pct(row: Mapping[str, Any], key: str) -> str:
    v = row.get(key)
    if v is None:
        return "–"
    ci = row.get(f"{key}_ci")
    text = f"{100 * v:.1f}"
    if ci and None not in ci:
        text += f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})"
    return text


def _auc(row: Mapping[str, Any]) -> str:
    v = row.get("auc")
    if v is None:
        return "–"
    ci = row.get("auc_ci")
    return f"{v:.3f}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci and None not in ci else "")


def _table(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    by_name = {r["name"]: r for r in rows}
    out = ["| set | n | sensitivity % | specificity % | 3-class accuracy % | AUC | study sens./spec. % |",
           "|---|---|---|---|---|---|---|"]
    for name in names:
        r = by_name.get(name)
        if r is None:
            continue
        out.append(f"| {ROW_LABELS.get(name, name)} | {r.get('n', '–')} | {_pct(r, 'sensitivity')} | "
                   f"{_pct(r, 'specificity')} | {_pct(r, 'accuracy_3class')} | {_auc(r)} | "
                   f"{STUDY.get(name, '')} |")
    return out


class PublishedError(ValueError):
    """The package cannot back a published table (missing, unreadable, or a file not matching its hash)."""


def _load(package: Path, key: str, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The package's ``key`` document, only if it matches the sha256 the manifest records for it."""
    from ceusdesk.model_package.manifest import sha256_file

    entry = manifest.get("files", {}).get(key)
    if not entry:
        return None
    path = package / entry["path"]
    if "sha256" in entry and sha256_file(path) != entry["sha256"]:
        raise PublishedError(f"{path}: sha256 differs from the manifest's files.{key}; "
                             "quote only what the package vouches for (re-run evaluate/test-package)")
    return json.loads(path.read_text(encoding="utf-8"))


def _manifest(package: Path) -> dict[str, Any]:
    try:
        return json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PublishedError(f"{package}: not a readable model package ({err}); "
                             "pass the folder that holds manifest.json") from err


def _csv_rows(package: Path, key: str, manifest: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """The package's per-case predictions ``key`` (sha256-checked), None when it ships none."""
    from ceusdesk.model_package.manifest import sha256_file

    from .predictions import read_csv

    entry = manifest.get("files", {}).get(key)
    if not entry:
        return None
    path = package / entry["path"]
    if sha256_file(path) != entry.get("sha256"):
        raise PublishedError(f"{path}: sha256 differs from the manifest's files.{key}; re-run the export or "
                             "test-package that wrote it")
    return read_csv(path)


def _csv_key(row_name: str) -> tuple[str, str]:
    """(phase_set in the CSV, column) that backs a document row's AUC."""
    if row_name.startswith("fused_"):
        return row_name[len("fused_"):], "p_malignant_fused"
    if row_name == "as_analyzed":
        return "as_analyzed", "p_malignant"
    return row_name, "p_malignant_cnn"


def recompute(doc: Mapping[str, Any], rows: Sequence[Mapping[str, str]], names: Sequence[str],
              what: str) -> int:
    """Check every AUC the tables quote from ``doc`` (and the readers') against the per-case rows;
    returns how many were checked. Raises :class:`PublishedError` at the first that does not recompute."""
    from .predictions import auc

    checked = 0
    by_name = {r["name"]: r for r in doc.get("rows", [])}
    pairs = [(n, by_name[n].get("auc"), *_csv_key(n)) for n in names if n in by_name]
    ws = doc.get("washout_score") or {}
    pairs += [(f"washout reader {n}", (ws.get(n) or {}).get("auc"), n, "reader_score")
              for n in ("full", "early")]
    for name, quoted, phase_set, column in pairs:
        if quoted is None:
            continue
        got = auc(rows, phase_set, column)
        if got is None or abs(got - float(quoted)) > AUC_TOLERANCE:
            found = "nothing to score" if got is None else f"{got:.4f}"
            raise PublishedError(f"{what}: the AUC of '{name}' ({float(quoted):.4f}) does not recompute from "
                                 f"the per-case predictions ({found}); re-run the export / test-package "
                                 "that wrote both")
        checked += 1
    return checked


def render(package: str | Path) -> str:
    """The Markdown block body for ``package`` (a folder with manifest.json); every AUC it quotes is first
    recomputed from the package's per-case predictions when it ships them."""
    package = Path(package)
    manifest = _manifest(package)
    test, cv = _load(package, "test", manifest), _load(package, "metrics", manifest)
    recomputed = 0
    for key, doc, names in (("test", test, TEST_ROWS), ("metrics", cv, CV_ROWS)):
        rows = _csv_rows(package, CSV_OF[key], manifest)
        if doc is not None and rows is not None:
            recomputed += recompute(doc, rows, names, f"{package.name}/{manifest['files'][key]['path']}")
    thr = manifest.get("thresholds") or {}
    lines = [f"Model `{manifest['name']}` {manifest.get('version', '')} (uid `{manifest.get('uid', '')}`); "
             f"operating thresholds on P(malignant): early {thr.get('early', float('nan')):.3f}, "
             f"full {thr.get('full', float('nan')):.3f}. **Synthetic phantom data: these numbers prove "
             f"the pipeline, not the medicine.** 95 % bootstrap intervals in brackets.", ""]
    fusion = manifest.get("fusion")
    if fusion:
        shipped = "model + measured evidence" if fusion.get("default") else "model (CNN) alone"
        sets = fusion.get("sets") or {}
        fused_thr = ", ".join(f"{s} {float(sets[s]['threshold']):.3f}"
                              for s in ("early", "full") if s in sets)
        lines += [f"The app's call: **{shipped}** ({fusion.get('default_rule', '')}). The CNN rows are the "
                  "reproduction of the study's method (thresholds above); `fused` rows add the measured "
                  f"evidence (thresholds on the fused P(malignant): {fused_thr}).", ""]
    if recomputed:
        lines += [f"Every AUC below ({recomputed}) recomputes from the package's per-case predictions "
                  "(`test_predictions.csv`, `oof_predictions.csv`).", ""]
    sections = [
        (test, TEST_ROWS, f"Independent test (`test.json`, {(test or {}).get('n_cases', '?')} phantom cases "
                          "from seeds disjoint from training, int8 through the app's own code, thresholds "
                          "fixed before testing):"),
        (cv, CV_ROWS, f"Cross-validation (`metrics.json`, {(cv or {}).get('folds', '?')} outer folds × "
                      f"{(cv or {}).get('n_cases', '?')} cases, each fold called at thresholds chosen on "
                      "its inner validation only):"),
    ]
    for doc, columns, heading in sections:
        if doc is None:
            continue
        lines += [heading, ""] + _table(doc["rows"], columns) + [""]
        reader = _reader_line(doc)
        if reader:
            lines += [reader, ""]
        robust = _robustness(doc)
        if robust:
            lines += robust + [""]
    return "\n".join(lines)


ROBUSTNESS_LABELS = {"as_given": "as given", "roi_jitter_20": "ROI moved and resized by up to ±20 %",
                     "injection_plus_10s": "injection time 10 s late",
                     "injection_minus_10s": "injection time 10 s early"}


def _robustness(doc: Mapping[str, Any]) -> list[str]:
    """What a sloppy ROI or a mistimed injection costs the app's call (test.json ``robustness``)."""
    rows = doc.get("robustness") or []
    if not rows:
        return []
    out = ["Robustness (the app's call on the same test studies with sloppy inputs; thresholds unchanged):",
           "", "| input | n | sensitivity % | specificity % | AUC |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {ROBUSTNESS_LABELS.get(r['name'], r['name'])} | {r.get('n', '–')} | "
                   f"{_pct(r, 'sensitivity')} | {_pct(r, 'specificity')} | {_auc(r)} |")
    return out


def _reader_line(doc: Mapping[str, Any]) -> str | None:
    """The washout reader vs the model at matched sensitivity, and the app's rule, as ``doc`` (a test.json
    or metrics.json) gives them; what the score was computed from is quoted from the document's own
    ``washout_score.source``, so a file made with an older reader is described as what it is."""
    ws = doc.get("washout_score") or {}
    parts = []
    for name in ("full", "early"):
        cmp = ws.get(name)
        if not isinstance(cmp, Mapping) or not cmp.get("available") or cmp.get("specificity") is None:
            continue
        auc = f", reader AUC {cmp['auc']:.3f}" if cmp.get("auc") is not None else ""
        parts.append(f"{name} set (n {cmp.get('n', '?')}): reader specificity {_pct(cmp, 'specificity')} % "
                     f"vs model {100 * cmp['model_specificity']:.1f} % at the model's sensitivity "
                     f"{100 * cmp['model_sensitivity']:.1f} %{auc}")
    if not parts:
        return None
    source = str(ws.get("source") or "not recorded in the file").rstrip(".")
    line = f"Washout reader (score: {source}): " + "; ".join(parts) + "."
    rules = []
    for name in ("full", "early"):
        r = (ws.get("rule") or {}).get(name)
        if isinstance(r, Mapping) and r.get("available") and r.get("sensitivity") is not None:
            rules.append(f"{name} set ({r['rule']}; n {r.get('n', '?')}): sensitivity "
                         f"{_pct(r, 'sensitivity')} %, specificity {_pct(r, 'specificity')} %")
    if rules:
        line += " The app's readout rule as fixed calls: " + "; ".join(rules) + "."
    return line


def blocks(text: str) -> list[tuple[str, str]]:
    """(package, body) of every published block in ``text``."""
    return [(m["package"], m["body"]) for m in _BLOCK.finditer(text)]


def update(text: str, root: Path) -> str:
    """``text`` with every published block regenerated from its package (paths relative to ``root``)."""
    def sub(m: re.Match[str]) -> str:
        body = render(root / m["package"])
        return f"{BEGIN.format(package=m['package'])}\n{body}\n{END}"
    return _BLOCK.sub(sub, text)


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Render a package's test.json / metrics.json as the tables "
                                            "README and docs quote", add_help=add_help)
    p.add_argument("package", help="model package folder (with manifest.json)")
    p.add_argument("--update", nargs="*", default=[], metavar="FILE",
                   help="rewrite the published blocks of these Markdown files in place")
    p.add_argument("--root", default=".", help="folder the blocks' package paths are relative to")
    return p


def main(args: argparse.Namespace) -> int:
    from ceusdesk.base.atomicio import write_atomic

    try:
        if not args.update:
            print(render(args.package))
            return 0
        for name in args.update:
            path = Path(name)
            text = path.read_text(encoding="utf-8")
            if not blocks(text):
                log.error("%s: no '%s' marker; add one where the tables belong", path,
                          BEGIN.format(package="exports/NAME"))
                return 2
            write_atomic(path, update(text, Path(args.root)))
            log.info("updated %s", path)
    except (PublishedError, OSError) as err:
        log.error("%s", err)
        return 2
    return 0
