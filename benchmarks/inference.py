"""Inference speed: torch eager fp32 vs ONNX Runtime fp32 vs ONNX Runtime int8, batch 1, one run.

    .venv/bin/python benchmarks/inference.py [--size 224] [--repeats 20] [--threads N] [--run RUN]

Without ``--run`` the triple-ResNet50 is randomly initialized (speed does not depend on the weights;
agreement on random weights and inputs is then only a smoke check). The model is exported and quantized
by ``trainer.export``/``trainer.quantize`` exactly as a package is, and every session comes from
``ceusdesk.inference.runtime.make_session``. Prints a table with median latencies, ratios, int8/fp32
agreement,
and an int8 roofline estimate (see ``int8_peak``).
"""
from __future__ import annotations

import sys
from pathlib import Path

# run as a script, Python puts benchmarks/ first on sys.path, where sibling scripts (inspect.py …)
# would shadow standard modules: put the repository root there instead, before anything else loads
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ceusdesk.base.protocol import default_protocol  # noqa: E402
from ceusdesk.inference.runtime import cpu_flags, has_vnni, make_session, physical_cores  # noqa: E402
from trainer.export import export_fp32  # noqa: E402
from trainer.model import WithSoftmax, build_model  # noqa: E402
from trainer.quantize import quantize_int8  # noqa: E402

GMAC_224 = 12.3  # triple ResNet50 per case at 224² (3 × 4.1 GMAC); scales with the pixel count


def int8_peak(cores: int, ghz: float) -> tuple[float, str]:
    """Peak int8 multiply-accumulates per second, from the ISA's MACs per cycle per core.

    AVX512-VNNI: VPDPBUSD on 64 u8×s8 pairs, 2 per cycle on cores with two 512-bit FMA ports (Xeon
    Gold/Platinum, Sapphire Rapids) → 128 MAC/cycle. AVX-VNNI (256-bit, client cores): 2 × 32 = 64.
    AVX2 without VNNI: VPMADDUBSW + VPMADDWD (+ VPADDD) per 32 MACs, both on the two vector multiply
    ports → 32 MAC/cycle. The clock is the sustained all-core clock (``--ghz``; default /proc/cpuinfo's
    current MHz, which under load is close to it).
    """
    flags = cpu_flags()
    if "avx512_vnni" in flags:
        per, isa = 128, "AVX512-VNNI, 2×64 MAC/cycle"
    elif "avx_vnni" in flags:
        per, isa = 64, "AVX-VNNI, 2×32 MAC/cycle"
    elif "avx2" in flags:
        per, isa = 32, "AVX2 VPMADDUBSW+VPMADDWD, 32 MAC/cycle"
    else:
        per, isa = 16, "unknown ISA, assumed 16 MAC/cycle"
    return per * ghz * 1e9 * cores, f"{isa} × {ghz:.2f} GHz × {cores} cores"


def cpu_ghz() -> float:
    try:
        mhz = [float(m) for m in re.findall(r"cpu MHz\s*:\s*([\d.]+)", Path("/proc/cpuinfo").read_text())]
        return max(mhz) / 1000 if mhz else 2.5
    except OSError:
        return 2.5


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="default: physical cores")
    p.add_argument("--ghz", type=float, default=None, help="sustained all-core clock for the roofline")
    p.add_argument("--calibration", type=int, default=16, help="random calibration inputs")
    p.add_argument("--agreement-cases", type=int, default=32)
    p.add_argument("--run", help="a fit run: use its final model instead of random weights")
    args = p.parse_args()
    threads = args.threads or physical_cores() or 1
    torch.set_num_threads(threads)
    protocol = default_protocol()
    if args.run:
        from trainer.export import load_run

        run = load_run(args.run)
        model, size = run.build_model(), run.spec.size
    else:
        torch.manual_seed(0)
        model, size = build_model("triple", protocol).eval(), args.size
    n = len(protocol.slot_names)
    rng = np.random.default_rng(0)

    def inputs(k: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.normal(0, 1, (k, n, size, size)).astype(np.float32), np.ones((k, n), np.float32)

    with tempfile.TemporaryDirectory() as tmp:
        fp32_path, int8_path = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        t = time.perf_counter()
        export_fp32(model, n, size, fp32_path)
        t_export = time.perf_counter() - t
        t = time.perf_counter()
        quantize_int8(fp32_path, int8_path, (inputs(4) for _ in range(max(1, args.calibration // 4))),
                      reduce_range=has_vnni() is False)
        t_quant = time.perf_counter() - t
        s32, s8 = make_session(fp32_path, threads), make_session(int8_path, threads)
        images, mask = inputs(1)
        feed = {"images": images, "mask": mask}
        wrapped = WithSoftmax(model).eval()
        ti, tm = torch.from_numpy(images), torch.from_numpy(mask)
        with torch.inference_mode():
            ms = {"torch eager fp32": median_ms(lambda: wrapped(ti, tm), args.repeats),
                  "ORT fp32": median_ms(lambda: s32.run(None, feed), args.repeats),
                  "ORT int8": median_ms(lambda: s8.run(None, feed), args.repeats)}
        same, dmal = 0, []
        for _ in range(args.agreement_cases):
            im, mk = inputs(1)
            a = s32.run(None, {"images": im, "mask": mk})[0]
            b = s8.run(None, {"images": im, "mask": mk})[0]
            same += int(a.argmax() == b.argmax())
            dmal.append(abs(a[0, 1:].sum() - b[0, 1:].sum()))
    gmac = GMAC_224 * (size / 224) ** 2
    peak, how = int8_peak(threads, args.ghz or cpu_ghz())
    roof_ms = gmac * 1e9 / peak * 1000
    import onnxruntime

    print(f"CPU: {platform.processor() or platform.machine()}, {threads} threads (physical cores), "
          f"VNNI: {has_vnni()}, onnxruntime {onnxruntime.__version__}, torch {torch.__version__}")
    print(f"input {size}², batch 1, median of {args.repeats}; "
          f"export {t_export:.1f} s, quantize {t_quant:.1f} s")
    print(f"{'backend':18s} {'ms/case':>9s} {'vs torch':>9s} {'GMAC/s':>8s}")
    for name, v in ms.items():
        print(f"{name:18s} {v:9.1f} {ms['torch eager fp32'] / v:8.2f}x {gmac / v * 1000:8.1f}")
    print(f"int8 roofline: {gmac:.2f} GMAC / ({peak / 1e9:.0f} GMAC/s = {how}) = {roof_ms:.1f} ms; "
          f"int8 is {ms['ORT int8'] / roof_ms:.2f}x the roofline")
    weights = "the run's model" if args.run else "random weights"
    print(f"int8 vs fp32 on {args.agreement_cases} random inputs ({weights}): "
          f"top-1 agreement {same / args.agreement_cases:.3f}, mean |Δ malignant| {np.mean(dmal):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
