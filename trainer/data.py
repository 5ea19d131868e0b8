"""cases.jsonl → preprocessed arrays (cached), through the app's own ingestion and preprocessing.

:func:`load_cached_cases` is the one entry point for fit, evaluate and export: it builds missing cache
entries (in parallel on the first pass) and returns every case as numpy arrays exactly as the app
would compute them for the same study and ROI.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ceusdesk.base.classes import CLASSES  # the one class list (model output order)
from ceusdesk.base.protocol import Protocol, default_protocol
from ceusdesk.inference.preprocess import InputSpec

from . import cache
from .reader import reader_table

log = logging.getLogger(__name__)

REQUIRED_FIELDS = ("case_id", "study", "label", "roi")
CACHE_DIRNAME = ".ceusdesk-cache"


class CasesError(ValueError):
    """cases.jsonl is missing or malformed; the message names the file and line."""


@dataclass
class CaseArrays:
    """A cohort as arrays, in cases.jsonl order (minus skipped cases)."""

    images: np.ndarray  # float32 [N, n_slots, S, S]
    mask: np.ndarray  # float32 [N, n_slots]
    labels: np.ndarray  # int64 [N], index into CLASSES
    ids: list[str]
    patients: list[str]  # grouping key for CV (``patient`` or the case id)
    washout: np.ndarray  # float64 [N], NaN where the record has none
    records: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # [{case_id, reason}]
    context: np.ndarray | None = None  # uint8 [N, n_slots, P, P] (with_context; see trainer.cache)
    ctx_scale: np.ndarray | None = None  # float32 [N, n_slots]: ROI side / context side
    # float32 [N, n_slots + k]: the measured-evidence reader table (trainer.reader.reader_table; NaN: absent)
    reader: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def summary(self) -> dict:
        counts = Counter(CLASSES[i] for i in self.labels)
        sources = Counter(str(r.get("source", "phantom")) for r in self.records)
        return {
            "n": len(self),
            "by_class": {c: int(counts.get(c, 0)) for c in CLASSES},
            "n_patients": len(set(self.patients)),
            "sources": dict(sources),
            "skipped": list(self.skipped),
        }


def read_cases(cases_dir: str | Path) -> list[dict]:
    """Parse and check ``cases_dir/cases.jsonl``."""
    path = Path(cases_dir) / "cases.jsonl"
    if not path.is_file():
        raise CasesError(f"{path}: no such file (expected cases.jsonl from `python -m trainer synth`)")
    records, seen = [], set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise CasesError(f"{path}:{lineno}: not JSON ({err.msg})") from err
        missing = [k for k in REQUIRED_FIELDS if k not in rec]
        if missing:
            raise CasesError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
        if rec["label"] not in CLASSES:
            raise CasesError(f"{path}:{lineno}: label {rec['label']!r} is not one of {', '.join(CLASSES)}")
        if rec["case_id"] in seen:
            raise CasesError(f"{path}:{lineno}: duplicate case_id {rec['case_id']!r}")
        seen.add(rec["case_id"])
        records.append(rec)
    if not records:
        raise CasesError(f"{path}: no cases")
    return records


def subset(records: list[dict], max_cases: int | None, seed: int) -> list[dict]:
    """A seeded random subset (file order kept), or all records."""
    if max_cases is None or max_cases >= len(records):
        return records
    keep = np.sort(np.random.default_rng(seed).permutation(len(records))[:max_cases])
    return [records[i] for i in keep]


def ensure_cache(
    cases_dir: Path,
    records: Sequence[dict],
    spec: InputSpec,
    protocol: Protocol,
    cache_dir: Path,
    workers: int = 1,
) -> dict[str, str]:
    """Build missing cache entries. Returns {case_id: error} for the cases that failed."""
    jobs = [(str(cases_dir), dict(r), spec.to_dict(), protocol.to_dict(), str(cache_dir)) for r in records]
    todo = [j for j in jobs if not cache.cache_path(cache_dir, cases_dir, j[1], spec, protocol).is_file()]
    if todo:
        log.info(
            "preprocessing %d of %d cases into %s (%d worker(s))", len(todo), len(jobs), cache_dir, workers
        )
    errors: dict[str, str] = {}
    no_evidence: dict[str, str] = {}
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    bar = tqdm(total=len(todo), desc="preprocess", unit="case", disable=not todo, leave=False)
    t0, every = time.perf_counter(), max(1, len(todo) // 10)

    def done(k: int, case_id: str, err: str | None, ev_err: str | None) -> None:
        bar.update()
        if err:
            errors[case_id] = err
        if ev_err:  # the case keeps its model input; only its washout reader score is missing
            no_evidence[case_id] = ev_err
            log.warning("case %s: the evidence measured nothing (%s): its washout reader score is NaN",
                        case_id, ev_err)
        if k % every == 0 or k == len(todo):
            log.info("preprocessed %d of %d cases (%.2f s a case; evidence failed for %d)", k, len(todo),
                     (time.perf_counter() - t0) / k, len(no_evidence))

    with logging_redirect_tqdm():  # progress lines above the bar, not glued to it
        if workers <= 1 or len(todo) <= 1:
            for k, j in enumerate(todo, 1):
                done(k, *cache.prepare_case(*j))
        else:
            ctx = multiprocessing.get_context("spawn")  # no fork after torch/OpenMP threads exist
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                results = pool.map(cache.prepare_case, *zip(*todo, strict=True), chunksize=2)
                for k, res in enumerate(results, 1):
                    done(k, *res)
    bar.close()
    for case_id, err in errors.items():
        log.warning("case %s skipped: %s", case_id, err)
    return errors


def load_cached_cases(
    cases_dir: str | Path,
    spec: InputSpec,
    *,
    protocol: Protocol | None = None,
    cache_dir: str | Path | None = None,
    workers: int = 1,
    case_ids: Sequence[str] | None = None,
    max_cases: int | None = None,
    seed: int = 0,
    with_context: bool = False,
) -> CaseArrays:
    """Load cases (all, ``case_ids``, or a seeded ``max_cases`` subset) as preprocessed arrays.

    Cases whose study cannot be read are skipped and listed in ``CaseArrays.skipped``.
    ``with_context`` also loads the context crops for ROI jitter (None when any entry lacks them).
    """
    cases_dir = Path(cases_dir)
    protocol = protocol or default_protocol()
    cache_dir = Path(cache_dir) if cache_dir else cases_dir / CACHE_DIRNAME
    records = read_cases(cases_dir)
    if case_ids is not None:
        wanted = set(map(str, case_ids))
        records = [r for r in records if str(r["case_id"]) in wanted]
    records = subset(records, max_cases, seed)
    errors = ensure_cache(cases_dir, records, spec, protocol, cache_dir, workers)
    kept = [r for r in records if str(r["case_id"]) not in errors]
    if not kept:
        raise CasesError(
            f"{cases_dir}: none of {len(records)} cases could be preprocessed "
            f"(first error: {next(iter(errors.values()), '?')})"
        )
    n, k = len(kept), len(protocol.slot_names)
    images = np.empty((n, k, spec.size, spec.size), dtype=np.float32)
    mask = np.empty((n, k), dtype=np.float32)
    evidence: list[dict | None] = []
    context: np.ndarray | None = None
    ctx_scale = np.ones((n, k), dtype=np.float32)
    want_context = with_context
    for i, rec in enumerate(kept):
        e = cache.read_full_entry(cache.cache_path(cache_dir, cases_dir, rec, spec, protocol), with_context)
        images[i], mask[i] = e.images, e.mask
        evidence.append(e.evidence)
        if want_context and e.context is None:
            log.warning("case %s: its cache entry has no context crop: ROI jitter is off", rec["case_id"])
            want_context, context = False, None
        elif want_context:
            if context is None:
                context = np.empty((n, *e.context.shape), dtype=np.uint8)
            context[i], ctx_scale[i] = e.context, e.ctx_scale
    unmeasured = [str(r["case_id"]) for r, ev in zip(kept, evidence, strict=True) if ev and ev.get("error")]
    if unmeasured:  # each was warned about when its entry was built; a reminder for later runs
        log.info("%d of %d cases have no measured evidence (washout reader NaN): %s", len(unmeasured), n,
                 ", ".join(unmeasured[:10]) + (" …" if len(unmeasured) > 10 else ""))
    washout = np.array(
        [float(r["washout_score"]) if r.get("washout_score") is not None else np.nan for r in kept]
    )
    return CaseArrays(
        images=images,
        mask=mask,
        labels=np.array([CLASSES.index(r["label"]) for r in kept], dtype=np.int64),
        ids=[str(r["case_id"]) for r in kept],
        patients=[str(r.get("patient") or r["case_id"]) for r in kept],
        washout=washout,
        records=kept,
        skipped=[{"case_id": cid, "reason": msg} for cid, msg in errors.items()],
        context=context,
        ctx_scale=ctx_scale if context is not None else None,
        reader=reader_table(evidence, protocol),
    )


def phase_combinations(protocol: Protocol) -> dict[str, tuple[str, ...]]:
    """The evaluated phase combinations, name → slots.

    Cumulative by time after injection (b_only … full), then the sets the app meets besides them:
    ``gapped_full`` (the full set's required slots only: early + 10:00, the 3-6 min clips missing),
    ``no_b`` (every contrast slot, no B-mode) and ``kupffer_only`` (the post-vascular slot alone).
    """

    def upto(seconds: float) -> tuple[str, ...]:
        return tuple(s.name for s in protocol.slots if s.target_s is None or s.target_s <= seconds)

    last = max(protocol.slots, key=lambda s: float(s.target_s if s.target_s is not None else -1.0))
    return {
        "b_only": upto(-1.0),
        "b_030": upto(30.0),
        "le_1min": upto(60.0),
        "early": protocol.set_slots("early"),
        "le_5min": upto(300.0),
        "full": protocol.slot_names,
        "gapped_full": tuple(n for n in protocol.slot_names if n in set(protocol.full_set)),
        "no_b": tuple(s.name for s in protocol.slots if s.kind == "contrast"),
        "kupffer_only": (last.name,),
    }


def threshold_set(protocol: Protocol, slots: Sequence[str]) -> str:
    """Which phase set's threshold applies to a combination: ``full`` when it holds the full set's
    last slot (the app calls such a case with the full threshold), else ``early``."""
    return "full" if protocol.full_set[-1] in set(slots) else "early"


def gap_slots(protocol: Protocol) -> tuple[str, ...]:
    """Slots a full-set study may lack (3-6 min in sonazoid-9): neither in the early nor the full set."""
    required = set(protocol.full_set) | set(protocol.set_slots("early"))
    return tuple(n for n in protocol.slot_names if n not in required)


def slot_keep(protocol: Protocol, slots: Sequence[str]) -> np.ndarray:
    """float32 [n_slots]: 1 for the slots given, 0 elsewhere."""
    return np.array([1.0 if n in set(slots) else 0.0 for n in protocol.slot_names], dtype=np.float32)
