"""End-to-end ``ceusdesk analyze`` on a realistic 9-clip phantom study: total time, inference, peak RSS.

    .venv/bin/python benchmarks/analyze.py [--study DIR --roi X,Y,W,H] [--model MANIFEST]
                                           [--repeats 3] [--work DIR] [--size 224]

Without ``--study`` a realistic phantom study (``PhantomOptions(realistic=True)``: scanner-length
clips, ~130-190 MB of DICOM) is synthesized into ``--work`` and reused by later runs. Without
``--model`` the package ``ceusdesk analyze`` would use is taken; when there is none, a stand-in is
built once with the trainer (a randomly initialized triple-ResNet50, exported and quantized exactly as a
package is, ``--force`` because random weights do not pass the agreement gate; speed does not depend on
the weights).

Each repeat runs ``python -m ceusdesk analyze … --json`` in a fresh process: its wall time is the total
(interpreter start, imports, study reading, model verification and session, preprocessing, inference),
its peak RSS is its own VmHWM (Linux), and the ``timings_ms`` of its JSON give the parts. "inference" is
every model run of the analysis (the case plus one masked copy per used slot, one batch). Targets:
total ≤ 4 × inference; peak RSS ≤ 600 MB. "evidence" (``timings_ms.evidence``) is the enhancement
evidence computed after the result (docs/evidence.md: decoding up to 150 arterial frames and 8 per later
clip); the wall time includes it, the ratio target is for the result without it, and the ratio with
it is printed beside. Also prints the batch-1 latency for reference.
"""
from __future__ import annotations

import sys
from pathlib import Path

# run as a script, Python puts benchmarks/ first on sys.path, where sibling scripts (inspect.py …)
# would shadow standard modules: put the repository root there instead, before anything else loads
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from ceusdesk.base.errors import ModelRefused  # noqa: E402
from ceusdesk.inference.runtime import has_vnni, physical_cores  # noqa: E402
from ceusdesk.model_package.resolve import resolve_model  # noqa: E402

# `python -m ceusdesk …` that reports its peak RSS (VmHWM) on stderr when done. wait4's ru_maxrss is no
# good here: Linux carries the forking parent's high-water mark (torch, the phantom) into the child.
CHILD = (
    "import sys\n"
    "from ceusdesk.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "sys.stderr.write(''.join(ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')))\n"
    "sys.exit(rc)\n"
)
TOTAL_RATIO_TARGET = 4.0
RSS_TARGET_MB = 600.0


def synthesize(work: Path, seed: int) -> tuple[Path, str]:
    """A realistic phantom study under ``work`` (reused when its record is there); (study, roi)."""
    record_file = work / f"realistic-{seed}.json"
    if record_file.is_file():
        rec = json.loads(record_file.read_text())
        study = work / rec["study"]
        if study.is_dir():
            return study, ",".join(map(str, rec["roi"]))
    from ceusdesk.phantom import PhantomOptions, synthesize_case

    print(f"synthesizing a realistic phantom study into {work} (a few minutes, once)…", file=sys.stderr)
    t = time.perf_counter()
    rec = synthesize_case(work, seed=seed, case_id=f"realistic-{seed}",
                          options=PhantomOptions(realistic=True))
    print(f"  done in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    record_file.write_text(json.dumps(rec))
    return work / rec["study"], ",".join(map(str, rec["roi"]))


def standin_package(work: Path, size: int) -> Path:
    """An untrained triple-ResNet50 int8 package (built once with the trainer; needs torch)."""
    out = work / f"standin-{size}"
    if (out / "manifest.json").is_file():
        return out / "manifest.json"
    import torch

    from ceusdesk.base.protocol import default_protocol
    from ceusdesk.inference.preprocess import InputSpec
    from trainer.export import PackageInfo, make_package
    from trainer.model import build_model

    print(f"building a stand-in model package at {size}² in {out} (random weights, once)…", file=sys.stderr)
    protocol = default_protocol()
    torch.manual_seed(0)
    model = build_model("triple", protocol).eval()
    n = len(protocol.slot_names)
    rng = np.random.default_rng(0)

    def chunks(k: int):
        def gen():
            for _ in range(k):
                yield (rng.normal(0, 1, (2, n, size, size)).astype(np.float32), np.ones((2, n), np.float32))
        return gen

    info = PackageInfo(name="benchmark-standin", version="0", protocol=protocol, spec=InputSpec(size=size),
                       threshold=0.5, training={"how": "random weights: benchmark stand-in, not trained"},
                       metrics=[], calibration_source="random normal inputs")
    make_package(model, info, out, calibration=chunks(4), heldout=chunks(2), n_calibration_wanted=8,
                 force=True)
    return out / "manifest.json"


def analyze_once(study: Path, roi: str, manifest: Path) -> tuple[float, float, dict]:
    """(wall s, peak RSS MB, result.timings_ms) of one ``ceusdesk analyze`` process."""
    cmd = [sys.executable, "-c", CHILD, "analyze", str(study), "--roi", roi, "--model", str(manifest),
           "--json"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"analyze failed ({proc.returncode}): {proc.stderr}")
    hwm = [ln for ln in proc.stderr.splitlines() if ln.startswith("VmHWM:")]
    rss_mb = float(hwm[-1].split()[1]) / 1024.0 if hwm else float("nan")  # kB
    return wall, rss_mb, json.loads(proc.stdout)["result"]["timings_ms"]


def batch1_ms(manifest: Path, study: Path, roi: str, repeats: int = 5) -> tuple[float, float]:
    """Median batch-1 and batch-10 latency (ms) of the model on this case's input, in this process."""
    from ceusdesk.base.roi import parse_roi
    from ceusdesk.inference import get_model, run_model
    from ceusdesk.inference.engine import masked_batch
    from ceusdesk.inference.inputs import case_inputs
    from ceusdesk.study import open_study

    model = get_model(manifest)
    ci = case_inputs(open_study(study), parse_roi(roi), model.spec, protocol=model.protocol)
    images, mask, _ = masked_batch(ci)
    out = []
    for x, m in ((ci.images[None], ci.mask[None]), (images, mask)):
        run_model(model, x, m)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            run_model(model, x, m)
            times.append((time.perf_counter() - t) * 1000.0)
        out.append(statistics.median(times))
    return out[0], out[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--study", type=Path,
                    help="study folder (default: a realistic phantom, synthesized once)")
    ap.add_argument("--roi", help="X,Y,W,H for --study")
    ap.add_argument("--model", type=Path, help="manifest.json (default: the package analyze would use)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ceusdesk-bench",
                    help="where the phantom study and the stand-in package are kept between runs")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--size", type=int, default=224, help="input size of a stand-in package")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.study and not args.roi:
        ap.error("--study needs --roi")
    args.work.mkdir(parents=True, exist_ok=True)

    study, roi = (args.study, args.roi) if args.study else synthesize(args.work, args.seed)
    if args.model:
        manifest = args.model
    else:
        try:
            manifest = resolve_model(None)
        except ModelRefused:
            manifest = standin_package(args.work, args.size)
    size_mb = sum(f.stat().st_size for f in study.rglob("*") if f.is_file()) / 1e6
    n_files = sum(1 for f in study.rglob("*") if f.is_file())
    meta = json.loads(Path(manifest).read_text())
    print(f"machine   {platform.processor() or platform.machine()}, {os.cpu_count()} logical / "
          f"{physical_cores()} physical cores, VNNI {has_vnni()}")
    print(f"study     {study} ({n_files} files, {size_mb:.0f} MB), roi {roi}")
    print(f"model     {meta['name']} {meta['version']} int8, input {meta['input']['size']}², {manifest}")

    rows = []
    print(f"\n{'run':>3} {'wall':>8} {'result':>8} {'open':>8} {'load':>8} {'inputs':>8} {'infer':>8} "
          f"{'evidence':>8} {'RSS MB':>8}")
    for i in range(args.repeats):
        wall, rss, t = analyze_once(study, roi, manifest)
        evidence = float(t.get("evidence") or 0.0)
        rows.append((wall * 1000.0, wall * 1000.0 - evidence, t["open_study"], t["load_model"], t["inputs"],
                     t["inference"], evidence, rss))
        print(f"{i + 1:>3} " + " ".join(f"{v:>8.0f}" for v in rows[-1]))
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print("med " + " ".join(f"{v:>8.0f}" for v in med) + "   (ms; RSS in MB)")
    b1, b10 = batch1_ms(Path(manifest), study, roi)
    print(f"\nbatch-1 inference {b1:.0f} ms; the analysis batch (case + masked copies) {b10:.0f} ms")
    ratio = med[1] / med[5]
    peak = max(r[7] for r in rows)
    print(f"result (wall without evidence) / inference = {ratio:.2f} (target ≤ {TOTAL_RATIO_TARGET:g})  "
          f"{'OK' if ratio <= TOTAL_RATIO_TARGET else 'OVER'}; with the evidence {med[0] / med[5]:.2f}")
    print(f"peak RSS = {peak:.0f} MB (target ≤ {RSS_TARGET_MB:g})  "
          f"{'OK' if peak <= RSS_TARGET_MB else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
