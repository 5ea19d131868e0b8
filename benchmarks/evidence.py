"""Enhancement evidence against the phantom's truth: how well ``ceusdesk.evidence`` measures what the
generator drew.

    .venv/bin/python benchmarks/evidence.py [--cases 60] [--seed 11] [--frames-per-clip 8]
                                            [--acquisition standard|clinical] [--workers 2] [--json]
    .venv/bin/python benchmarks/evidence.py --misspecified [--cases 60]   # what a wrong scanner preset costs

Each case is synthesized by ``ceusdesk.phantom.synthesize_case`` (what ``python -m trainer synth``
runs per case), with the generator's draw captured in the same process, then read with
``open_study``, its ROI (cases.jsonl's) placed on every slot as ``analyze`` places it, and
``compute_evidence`` run on it (no model: the readout's disagreement line is not exercised). Truth, from
the generator's noise-free curves with the evidence's own definitions (docs/evidence.md):

- peak ratio: lesion core / liver at the lesion's arterial peak (0.25 s grid over the arterial clip);
- washout onset: first time the ratio falls below 0.8 and stays there to 6:30 (1 s grid); None: never;
- Kupffer ratio at 10:20, defect: < 0.8; APHE: peak ratio or periphery ratio ≥ 1.25; pattern: the
  lesion's drawn pattern (rim → rim, nodular → peripheral_nodular, others → diffuse);
- size: the drawn diameter.

Targets (issue 13): washout onset within 15 s on ≥ 90 % of lesions that wash out; defect-call agreement
≥ 95 %; size within 15 % on lesions ≥ 1 cm. Prints measured numbers, met or not.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the repository, not benchmarks/, first

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HYPO, HYPER = 0.8, 1.25
PATTERN_TRUTH = {"rim": "rim", "nodular": "peripheral_nodular"}


def truth_of(params, arterial_window: tuple[float, float]) -> dict:
    """The generator's noise-free answers, with the evidence's definitions."""
    from ceusdesk.phantom import kinetics as kin
    from ceusdesk.phantom.lesion import build_maps

    k, les = params.kinetics, params.lesion
    g = np.linspace(-1.0, 1.0, 61)
    u, v = np.meshgrid(g, g)
    maps = build_maps(u, v, les)
    core = maps.mask * (maps.rho < 0.9)
    rim = maps.mask * (maps.rho >= 0.6) * (maps.rho <= 1.0)

    def signal(t: float) -> np.ndarray:
        front = kin.fill_front(float(t), k, les)
        blood = maps.perfusion(les, front) * float(kin.lesion_blood(t, k, les))
        return blood + maps.kupffer * float(kin.kupffer(t, k))

    def ratios(times, weight) -> np.ndarray:
        return np.array([float((signal(t) * weight).sum() / weight.sum()) / float(kin.liver(t, k))
                         for t in times])

    ta = np.arange(arterial_window[0], arterial_window[1] + 1e-9, 0.25)
    lesion_curve = np.array([float((signal(t) * core).sum() / core.sum()) for t in ta])
    i = int(np.argmax(lesion_curve))
    t_peak = float(ta[i])
    peak_ratio = float(ratios([t_peak], core)[0])
    rim_ratio = float(ratios([t_peak], rim)[0])
    tv = np.arange(t_peak, 390.0 + 1e-9, 1.0)
    r = ratios(tv, core)
    onset = None
    if r[-1] < HYPO:
        above = np.flatnonzero(r >= HYPO)
        onset = float(tv[int(above[-1]) + 1]) if len(above) else float(tv[0])
    kupffer = float(ratios([620.0], core)[0])
    aphe = bool(max(peak_ratio, rim_ratio) >= HYPER)
    return {"peak_ratio": peak_ratio, "time_to_peak_s": t_peak, "washout_onset_s": onset,
            "kupffer_ratio": kupffer, "kupffer_defect": kupffer < HYPO, "aphe": aphe,
            "aphe_pattern": PATTERN_TRUTH.get(les.pattern, "diffuse") if aphe else None,
            "size_mm": 10.0 * les.diameter_cm, "subtype": params.subtype}


def one(job: tuple) -> dict:
    """Synthesize one case (capturing the generator's draw), measure it, and compare."""
    out, seed, label, options, textbook, true_range = job
    if true_range is not None:  # the display drawn with another dynamic range than the preset table says
        from dataclasses import replace

        from ceusdesk.phantom import scanner

        # in place: the renderer and the options hold this very dict (the last row; a worker is fresh)
        profiles = scanner.PROFILES
        profiles.update({k: replace(v, ceus_range_db=true_range) for k, v in profiles.items()})
    from ceusdesk.evidence import compute_evidence
    from ceusdesk.inference.inputs import place_rois
    from ceusdesk.phantom import case as case_mod
    from ceusdesk.study import open_study
    from ceusdesk.study.frames import slot_panels

    drawn = []
    real = case_mod.sample_case

    def capture(*a, **kw):
        drawn.append(real(*a, **kw))
        return drawn[-1]

    case_mod.sample_case = capture
    try:
        rec = case_mod.synthesize_case(Path(out), seed=seed, label=label, options=options,
                                       case_id=f"case{seed}", textbook=textbook)
    finally:
        case_mod.sample_case = real
    study_dir = Path(out) / rec["study"]
    try:
        study = open_study(study_dir, injection_time=rec["injection_time"],
                           contrast_panel=rec["contrast_panel"])
        roi = tuple(rec["roi"])
        placement = place_rois(study, roi, slot_panels(study))
        used = [s for s in study.protocol.set_slots(study.phase_set) if study.slots.get(s) is not None]
        result = {"slots_used": used, "rois": placement.rois, "call": None, "phase_set": study.phase_set}
        t0 = time.perf_counter()
        ev = compute_evidence(study, result, roi).to_json()
        seconds = time.perf_counter() - t0
        art = next(e for e in study.clips if e.clip is study.slots["0:30"].clip)
        window = (float(art.start_s), float(art.end_s))
    finally:
        shutil.rmtree(study_dir, ignore_errors=True)
    return {"case": rec["case_id"], "scanner": rec.get("scanner"), "truth": truth_of(drawn[-1], window),
            "measured": {k: v for k, v in ev.items() if k not in ("tic", "readout")}, "seconds": seconds}


def _in_range(truth: float, rng: list | None, point: float | None) -> bool:
    """Whether the truth lies in the reported onset range (an open end: up to the vascular phase's end);
    without a range, whether the point is within 15 s."""
    if not rng:
        return point is not None and abs(point - truth) <= 15.0
    lo, hi = rng
    return lo - 1e-6 <= truth <= (hi if hi is not None else 390.0) + 1e-6


def summarize(rows: list[dict]) -> dict:
    def pct(x: list[bool]) -> float | None:
        return round(100.0 * float(np.mean(x)), 1) if x else None

    m = [(r["truth"], r["measured"]) for r in rows]
    pr = [abs(np.log(e["peak_ratio"] / t["peak_ratio"])) for t, e in m
          if e["peak_ratio"] and t["peak_ratio"] > 0]
    wash = [(t["washout_onset_s"], e["washout_onset_s"]) for t, e in m if t["washout_onset_s"] is not None]
    wash_err = [abs(a - b) if b is not None else float("inf") for a, b in wash]
    false_wash = [e["washout_onset_s"] is not None for t, e in m if t["washout_onset_s"] is None]
    kr = [abs(e["kupffer_ratio"] - t["kupffer_ratio"]) for t, e in m if e["kupffer_ratio"] is not None]
    defect = [e["kupffer_defect"] == t["kupffer_defect"] for t, e in m if e["kupffer_defect"] is not None]
    firm = [e["kupffer_defect"] == t["kupffer_defect"] for t, e in m
            if e["kupffer_defect"] is not None and not e.get("kupffer_defect_borderline")]
    k_in = [e["kupffer_ratio_range"][0] <= t["kupffer_ratio"] <= e["kupffer_ratio_range"][1] for t, e in m
            if e.get("kupffer_ratio_range")]
    onset_in = [_in_range(t["washout_onset_s"], e.get("washout_onset_range_s"), e["washout_onset_s"])
                for t, e in m if t["washout_onset_s"] is not None]
    widths = [(r[1] if r[1] is not None else 390.0) - r[0] for t, e in m
              if t["washout_onset_s"] is not None and (r := e.get("washout_onset_range_s"))]
    early = [(t["washout_onset_s"] < 60) == (e["washout_onset_s"] < 60) for t, e in m
             if t["washout_onset_s"] is not None and e["washout_onset_s"] is not None]
    aphe = [e["aphe"] == t["aphe"] for t, e in m if e["aphe"] is not None]
    pattern = [e["aphe_pattern"] == t["aphe_pattern"] for t, e in m if t["aphe"] and e["aphe"]]
    size = [abs(e["lesion_size_mm"] - t["size_mm"]) / t["size_mm"] for t, e in m
            if t["size_mm"] >= 10.0 and e["lesion_size_mm"] is not None]
    size_n = sum(t["size_mm"] >= 10.0 for t, _ in m)
    return {
        "cases": len(rows),
        "peak_ratio": {"median_abs_error_pct": round(100 * (np.exp(np.median(pr)) - 1), 1) if pr else None,
                       "p90_abs_error_pct": round(100 * (np.exp(np.percentile(pr, 90)) - 1), 1)
                       if pr else None, "n": len(pr)},
        "washout_onset": {"lesions_washing_out": len(wash),
                          "within_15s_pct": pct([x <= 15 for x in wash_err]),
                          "median_abs_error_s": round(float(np.median(wash_err)), 1) if wash_err else None,
                          "missed": sum(b is None for _, b in wash),
                          "false_onset_pct_of_no_washout": pct(false_wash), "target_within_15s_pct": 90,
                          "truth_within_reported_range_pct": pct(onset_in),
                          "range_width_median_s": round(float(np.median(widths)), 1) if widths else None,
                          "early_late_agreement_pct": pct(early)},
        "kupffer_ratio": {"median_abs_error": round(float(np.median(kr)), 3) if kr else None, "n": len(kr)},
        "defect_agreement_pct": pct(defect), "defect_target_pct": 95,
        "defect_firm_calls": {"n": len(firm), "agreement_pct": pct(firm),
                              "borderline": len(defect) - len(firm)},
        "kupffer_truth_within_range_pct": pct(k_in),
        "aphe_agreement_pct": pct(aphe), "aphe_pattern_agreement_pct": pct(pattern),
        "size": {"lesions_ge_10mm": size_n, "measured": len(size),
                 "within_15pct_pct": pct([s <= 0.15 for s in size]),
                 "within_15pct_of_all_pct": round(100.0 * sum(s <= 0.15 for s in size) / size_n, 1)
                 if size_n else None,
                 "median_abs_error_pct": round(100 * float(np.median(size)), 1) if size else None},
        "seconds_per_case_median": round(float(np.median([r["seconds"] for r in rows])), 2),
    }


def run_cohort(args: argparse.Namespace, true_range: float | None = None) -> list[dict]:
    from ceusdesk.phantom import PhantomOptions
    from ceusdesk.phantom.cohort import case_seed, cohort_labels

    options = PhantomOptions(frames_per_clip=args.frames_per_clip, acquisition=args.acquisition)
    labels = cohort_labels(args.cases, args.seed, (48, 78, 55))
    with tempfile.TemporaryDirectory(prefix="ceusdesk-evidence-") as tmp:
        jobs = [(tmp, case_seed(args.seed, i), labels[i], options, args.textbook, true_range)
                for i in range(args.cases)]
        if args.workers <= 1:
            return [one(j) for j in jobs]
        with mp.get_context("spawn").Pool(args.workers) as pool:  # workers inherit CEUSDESK_SCANNERS
            return pool.map(one, jobs)


def misspecified(args: argparse.Namespace) -> int:
    """Rows for a wrong preset, on the standard acquisition's scanner (PH-100 Classic, 26 dB in the
    table): the evidence assuming 40 dB there, and assuming the table's 26 dB on a display drawn at 40 dB."""
    import os

    from ceusdesk.evidence.scanners import ENV_SCANNERS
    from ceusdesk.phantom.scanner import MANUFACTURER, PROFILES

    if args.acquisition != "standard":
        raise SystemExit("--misspecified runs the standard acquisition (one scanner, PH-100 Classic)")
    table_db = PROFILES["classic"].ceus_range_db
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="ceusdesk-scanners-") as tmp:
        site = Path(tmp) / "scanners.json"
        site.write_text(json.dumps({"presets": [
            {"manufacturer": MANUFACTURER, "model": p.model, "dynamic_range_db": 40.0}
            for p in PROFILES.values()]}))
        for name, true_db, assumed_file in (
                (f"preset right ({table_db:g} dB drawn, {table_db:g} dB assumed)", None, None),
                (f"40 dB assumed on a {table_db:g} dB display", None, site),
                (f"{table_db:g} dB assumed on a 40 dB display", 40.0, None)):
            os.environ.pop(ENV_SCANNERS, None)
            if assumed_file is not None:
                os.environ[ENV_SCANNERS] = str(assumed_file)
            t0 = time.perf_counter()
            out[name] = summarize(run_cohort(args, true_db)) | {"wall_s": round(time.perf_counter() - t0, 1)}
        os.environ.pop(ENV_SCANNERS, None)
    print(json.dumps({"rows": out, "options": {"cases": args.cases, "seed": args.seed,
                                               "frames_per_clip": args.frames_per_clip}},
                     indent=None if args.json else 2))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--frames-per-clip", type=int, default=8)
    ap.add_argument("--acquisition", default="standard", choices=("standard", "clinical"))
    ap.add_argument("--textbook", action="store_true", help="every case its subtype's textbook picture")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rows", metavar="FILE", help="also write each case's truth and measurement (JSONL)")
    ap.add_argument("--misspecified", action="store_true",
                    help="the same cohort three times: preset as the table says, 40 dB assumed on the 26 dB "
                         "scanner, 26 dB assumed on a 40 dB display (what a wrong preset costs)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.misspecified:
        return misspecified(args)
    t0 = time.perf_counter()
    rows = run_cohort(args)
    summary = summarize(rows) | {"wall_s": round(time.perf_counter() - t0, 1), "options": {
        "frames_per_clip": args.frames_per_clip, "acquisition": args.acquisition, "seed": args.seed,
        "textbook": args.textbook}}
    if args.rows:
        Path(args.rows).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(json.dumps(summary, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
