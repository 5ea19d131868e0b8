"""RUN/report.md with ROC, confusion-matrix and reliability plots (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import metrics
from .data import CLASSES


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _with_ci(row: dict, key: str) -> str:
    lo, hi = row.get(f"{key}_ci") or [None, None]
    return f"{_pct(row.get(key))} ({_pct(lo)}–{_pct(hi)})"


def _plots(run: Path, doc: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with np.load(run / "oof.npz") as z:
        have = z["fold"] >= 0
        labels, probs, combos = z["labels"][have], z["probs"][:, have], [str(c) for c in z["combos"]]
    out = run / "plots"
    out.mkdir(exist_ok=True)
    # results on the phantom prove the pipeline, not the medicine: every figure says so
    data_note = "\nPHANTOM DATA - not patients" if doc.get("phantom") else ""
    fig, ax = plt.subplots(figsize=(5, 5))
    for c, name in enumerate(combos):
        fpr, tpr = metrics.roc(labels, probs[c])
        ax.plot(fpr, tpr, label=name)
    wo = doc["washout_score"]
    if wo.get("available") and wo.get("specificity") is not None:
        ax.plot(1 - wo["specificity"], wo["sensitivity"], "k*", ms=12, label="washout score")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC, benign vs malignant (OOF)" + data_note)
    ax.legend(fontsize=8)
    fig.savefig(out / "roc.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    rows = {r["name"]: r for r in doc["rows"]}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    for ax, name in zip(axes, ("early", "full"), strict=True):
        cm = np.array(rows[name]["confusion_3class"])
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center")
        ax.set(
            xticks=range(3),
            yticks=range(3),
            xticklabels=CLASSES,
            yticklabels=CLASSES,
            xlabel="predicted",
            ylabel="true",
            title=name + data_note,
        )
        ax.tick_params(axis="x", labelrotation=20)
    fig.savefig(out / "confusion.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    for name in ("early", "full"):
        conf, acc, _ = metrics.reliability(probs[combos.index(name)], labels)
        ax.plot(conf, acc, "o-", label=f"{name} (ECE {rows[name]['ece']:.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="confidence (top class)", ylabel="accuracy", title="Calibration (OOF)" + data_note)
    ax.legend(fontsize=8)
    fig.savefig(out / "reliability.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return ["plots/roc.png", "plots/confusion.png", "plots/reliability.png"]


def render_markdown(doc: dict, images: list[str]) -> str:
    rows = {r["name"]: r for r in doc["rows"]}
    lines = ["# Evaluation report", ""]
    if doc.get("phantom"):
        lines += [
            "**These numbers come from phantom (synthetic) data, not from patients.** They show that the "
            "pipeline works; they say nothing about clinical performance.",
            "",
        ]
    d = doc.get("data", {})
    lines += [
        f"Out-of-fold predictions for {doc['n_cases']} of {d.get('n', '?')} cases "
        f"(cohort {d.get('by_class', {})}), {doc['folds']} fold(s) (1 = one 25 % hold-out). "
        f"Operating threshold on the malignant probability: "
        f"{doc['threshold']:.3f} — {doc.get('threshold_rule')}. Intervals: 95 % bootstrap.",
        "",
        "| row | phases | n | sensitivity % | specificity % | 3-class accuracy % | AUC | ECE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        lo, hi = r.get("auc_ci") or [None, None]
        auc = "n/a" if r["auc"] is None else f"{r['auc']:.3f} ({lo or 0:.3f}–{hi or 0:.3f})"
        lines.append(
            f"| {r['name']} ({r['model']}) | {', '.join(r['phases'])} | {r['n']} | "
            f"{_with_ci(r, 'sensitivity')} | {_with_ci(r, 'specificity')} | "
            f"{_with_ci(r, 'accuracy_3class')} | {auc} | {r['ece']:.3f} |"
        )
    lines += [
        "",
        "## Beside the study (Kamiyama et al. 2024, 181 patients' lesions)",
        "",
        "| set | study sens. % | study spec. % | ours sens. % | ours spec. % |",
        "|---|---|---|---|---|",
    ]
    for name in ("full", "early"):
        s, r = doc["study"][name], rows[name]
        lines.append(
            f"| {name} | {_pct(s['sensitivity'])} | {_pct(s['specificity'])} | "
            f"{_pct(r['sensitivity'])} | {_pct(r['specificity'])} |"
        )
    wo = doc["washout_score"]
    lines += ["", "## Washout-score baseline", ""]
    if wo.get("available"):
        lines += [
            f"Rule: {wo['threshold_rule']} (t = {wo['threshold']:g}). Sensitivity "
            f"{_with_ci(wo, 'sensitivity')} %, specificity {_with_ci(wo, 'specificity')} %.",
            "",
        ]
        for name in ("early", "full"):
            m = wo[f"mcnemar_{name}"]
            lines.append(
                f"- McNemar (exact), model `{name}` vs washout score: model right / score wrong "
                f"{m['a_right_b_wrong']}, model wrong / score right {m['a_wrong_b_right']}, "
                f"p = {m['p_value']:.3g}"
            )
    else:
        lines.append(wo.get("reason", "not available"))
    lines += ["", "## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images]
    return "\n".join(lines) + "\n"


def write_report(run: Path, doc: dict) -> Path:
    images = _plots(run, doc)
    path = run / "report.md"
    path.write_text(render_markdown(doc, images), encoding="utf-8")
    return path
