"""RUN/report.md with ROC, confusion-matrix and reliability plots (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ceusdesk.base.atomicio import write_atomic

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
        extra = {}  # the referential model and the fused calls, drawn bold beside the combinations
        if "referential_probs" in z.files:
            extra["referential (single ResNet50, full)"] = z["referential_probs"][combos.index("full"), have]
        if "fused_probs" in z.files:
            for j, s in enumerate(str(x) for x in z["threshold_sets"]):
                extra[f"model + measured evidence ({s})"] = z["fused_probs"][j, have]
    out = run / "plots"
    out.mkdir(exist_ok=True)
    # results on the phantom prove the pipeline, not the medicine: every figure says so
    data_note = "\nPHANTOM DATA - not patients" if doc.get("phantom") else ""
    fig, ax = plt.subplots(figsize=(5, 5))
    for c, name in enumerate(combos):
        fpr, tpr = metrics.roc(labels, probs[c])
        ax.plot(fpr, tpr, label=name, lw=1.0, alpha=0.7)
    for name, p in extra.items():
        ok = np.isfinite(p).all(axis=1)
        fpr, tpr = metrics.roc(labels[ok], p[ok])
        ax.plot(fpr, tpr, label=name, lw=2.2, ls="--" if name.startswith("referential") else "-")
    wo = doc["washout_score"]
    for name, marker in (("full", "k*"), ("early", "kx")):
        r = wo.get(name) or {}
        if r.get("available") and r.get("specificity") is not None:
            ax.plot(1 - r["specificity"], r["sensitivity"], marker, ms=11, label=f"washout reader ({name})")
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
    shipped = doc.get("thresholds") or {}
    lines += [
        f"Out-of-fold predictions for {doc['n_cases']} of {d.get('n', '?')} cases "
        f"(cohort {d.get('by_class', {})}), {doc['folds']} fold(s) (1 = one 25 % hold-out). "
        f"Thresholds on the malignant probability: {doc.get('threshold_rule')}; each outer fold is called "
        f"at its own fold's thresholds (never re-tuned on the outer predictions). Shipped model "
        f"{doc.get('selected_from')}: early {shipped.get('early', float('nan')):.3f}, "
        f"full {shipped.get('full', float('nan')):.3f}. Intervals: 95 % bootstrap, thresholds re-chosen "
        "on resampled inner-validation predictions.",
        "",
        "| row | phases | threshold | n | sensitivity % | specificity % | 3-class accuracy % | AUC | ECE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["rows"]:
        lo, hi = r.get("auc_ci") or [None, None]
        auc = "n/a" if r["auc"] is None else f"{r['auc']:.3f} ({lo or 0:.3f}–{hi or 0:.3f})"
        ece = "n/a" if r.get("ece") is None else f"{r['ece']:.3f}"
        lines.append(
            f"| {r['name']} ({r['model']}) | {', '.join(r['phases'])} | {r.get('threshold_set', '')} | "
            f"{r['n']} | {_with_ci(r, 'sensitivity')} | {_with_ci(r, 'specificity')} | "
            f"{_with_ci(r, 'accuracy_3class')} | {auc} | {ece} |"
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
    lines += ["", "## Washout reader at the model's sensitivity", ""]
    lines += washout_lines(doc["washout_score"])
    lines += ["", "## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images]
    return "\n".join(lines) + "\n"


def washout_lines(wo: dict) -> list[str]:
    """The washout reader beside the model, at matched sensitivity; what its score was computed from is
    the block's own ``source`` (the app's measured evidence, or the rendered grey of an older run)."""
    if not wo.get("available"):
        return [wo.get("reason", "not available: no readable lesion/liver intensities")]
    slots = "; ".join(f"{k} {', '.join(v)}" for k, v in wo["slots"].items())
    lines = [f"Score: {wo['source']}. Slots: {slots}.", "",
             "| reader | n | model sens. % | model spec. % | reader sens. % | reader spec. % | "
             "spec. difference (model − reader) % | McNemar p |", "|---|---|---|---|---|---|---|---|"]
    for name in ("full", "early"):
        r = wo.get(name) or {}
        if not r.get("available"):
            continue
        lines.append(
            f"| {name} | {r['n']} | {_pct(r['model_sensitivity'])} | {_pct(r['model_specificity'])} | "
            f"{_with_ci(r, 'sensitivity')} | {_with_ci(r, 'specificity')} | "
            f"{_with_ci(r, 'specificity_difference')} | {r['mcnemar']['p_value']:.3g} |"
        )
    g = wo.get("generator_score") or {}
    if g.get("available"):
        lines += ["", f"Reference ({g['note']}): {g['threshold_rule']} (t = {g['threshold']:g}): sensitivity "
                  f"{_with_ci(g, 'sensitivity')} %, specificity {_with_ci(g, 'specificity')} %."]
    return lines


def write_report(run: Path, doc: dict) -> Path:
    images = _plots(run, doc)
    path = run / "report.md"
    write_atomic(path, render_markdown(doc, images))
    return path
