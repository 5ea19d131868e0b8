"""Synthesize a cohort: studies, ``cases.jsonl`` and ``synth.json`` (what made it, for seed checks).

``synth.json`` records the generator (``phantom_version``), the cohort ``seed``, every case's seed
(``case_seeds``, in case order) and the options, so a test cohort can be checked for seed disjointness
from the training cohorts.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing as mp
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ceusdesk import __version__
from ceusdesk.base.atomicio import write_atomic, write_json_atomic
from ceusdesk.phantom.case import roi_of, synthesize_case
from ceusdesk.phantom.options import PhantomOptions
from ceusdesk.phantom.patients import PatientRef, group_cases
from ceusdesk.phantom.subtypes import LABELS

log = logging.getLogger(__name__)

PHANTOM_VERSION = "phantom v3"

__all__ = ["PHANTOM_VERSION", "case_seed", "cohort_labels", "roi_of", "synthesize_case", "synthesize_cohort"]


def cohort_labels(cases: int, seed: int, class_mix: tuple[int, int, int]) -> list[str]:
    """Labels in the proportions of ``class_mix`` (largest remainder), shuffled by ``seed``."""
    mix = np.asarray(class_mix, dtype=float)
    if mix.shape != (3,) or (mix < 0).any() or mix.sum() <= 0:
        raise ValueError(f"class_mix {class_mix} must be three non-negative counts, not all zero")
    exact = cases * mix / mix.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: cases - counts.sum()]:
        counts[i] += 1
    labels = [lab for lab, c in zip(LABELS, counts, strict=True) for _ in range(c)]
    np.random.default_rng([seed, 9]).shuffle(labels)
    return labels


def case_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


Job = tuple[str, int, str, str, PhantomOptions, "PatientRef | None"]


def _one(job: Job) -> dict:
    out, seed, label, case_id, options, patient = job
    return synthesize_case(Path(out), seed=seed, label=label, options=options, case_id=case_id,
                           patient=patient)


def _jobs(out_dir: Path, cases: int, seed: int, options: PhantomOptions,
          class_mix: tuple[int, int, int]) -> list[Job]:
    labels = cohort_labels(cases, seed, class_mix)
    seeds = [case_seed(seed, i) for i in range(cases)]
    owner = group_cases(cases, seed, options.clinical)
    shared = {o for i, o in enumerate(owner) if o != i}  # first cases of two-lesion patients
    jobs: list[Job] = []
    for i in range(cases):
        o = owner[i]
        patient = PatientRef(seeds[o], labels[o]) if o in shared else None
        jobs.append((str(out_dir), seeds[i], labels[i], f"case{i:05d}", options, patient))
    return jobs


def _summary(seed: int, options: PhantomOptions, class_mix: tuple[int, int, int], jobs: list[Job],
             records: list[dict]) -> dict:
    patients = Counter(r["patient"] for r in records)
    return {
        "phantom_version": PHANTOM_VERSION, "ceusdesk_version": __version__, "seed": seed,
        "case_seeds": [j[1] for j in jobs], "cases": len(records), "class_mix": list(class_mix),
        "options": dataclasses.asdict(options), "patients": len(patients),
        "two_lesion_patients": sum(1 for n in patients.values() if n > 1),
        "scanners": dict(sorted(Counter(r["scanner"] for r in records).items())),
    }


def synthesize_cohort(out_dir: Path | str, *, cases: int, seed: int, options: PhantomOptions | None = None,
                      workers: int | None = None, class_mix: tuple[int, int, int] = (48, 78, 55),
                      progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Write ``cases`` studies, ``out_dir/cases.jsonl`` and ``out_dir/synth.json``; each case seeded from
    (seed, index). In a clinical cohort some patients have two lesions (consecutive cases, one patient).

    ``progress(done, total)`` is called after every finished case (e.g. to advance a tqdm bar).
    """
    if cases < 1:
        raise ValueError("cases must be at least 1")
    options = options or PhantomOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = _jobs(out_dir, cases, seed, options, class_mix)
    workers = min(cases, workers or os.cpu_count() or 1)
    records: list[dict] = []
    if workers <= 1:
        for job in jobs:
            records.append(_one(job))
            if progress:
                progress(len(records), cases)
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            for rec in pool.imap(_one, jobs):
                records.append(rec)
                if progress:
                    progress(len(records), cases)
    write_atomic(out_dir / "cases.jsonl", "".join(json.dumps(r, allow_nan=False) + "\n" for r in records))
    write_json_atomic(out_dir / "synth.json", _summary(seed, options, class_mix, jobs, records))
    log.info("phantom cohort: %d cases in %s", cases, out_dir)
    return records
