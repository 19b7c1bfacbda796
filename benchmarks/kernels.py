"""Kernel benchmark: eager PyTorch vs torch.compile of the reference vs the fused Triton kernel.

    python benchmarks/kernels.py                  # every op x shape, bfloat16 logits, on the GPU
    python benchmarks/kernels.py --end-to-end     # plus training/sampling step times, kernels on/off
    python benchmarks/kernels.py --ops sampler --shapes 16384x50257 --variants eager,triton

Writes benchmarks/results/kernels.json and docs/results/kernels.md (on a CPU only with
--cpu-results: there the harness runs, timings by perf_counter, Triton only under
TRITON_INTERPRET=1, and its speed means nothing).

Ops: `sampler` (Gumbel-max with confidences, temperature 1), `softmax` (masked log-softmax, every
row masked), `loss` (ELBO cross-entropy forward + gradient with respect to the logits). For each
op, shape and variant it reports the median time (min/max too), effective bandwidth over the
bytes the op must move at least (logits read once, outputs written once; the loss also writes a
gradient the size of the logits), % of the device's peak bandwidth, and the peak memory the call
allocates on top of its inputs. `eager` is the reference as the engine runs it without kernels
(the sampler draws float64 noise; the loss makes a float32 copy). A later run on the same device
and versions replaces the rows it measures and keeps the others, so the table can be filled over
several shorter runs (e.g. one --ops at a time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

import torch

from maskdiff import kernels
from maskdiff.kernels import (
    elbo_cross_entropy_reference,
    gumbel_sample_reference,
    masked_log_softmax_reference,
)
from maskdiff.kernels.triton_support import INTERPRETED
from maskdiff.results import Benchmark, benchmark_main, read_results

OPS = ("sampler", "softmax", "loss")
VARIANTS = ("eager", "compile", "triton")
SHAPES = [(r, v) for r in (1024, 16384, 65536) for v in (10, 28, 50257, 151936)]

# Nominal peak memory bandwidth (GB/s) by device name; the first matching row wins.
PEAK_BANDWIDTH = [(("H200",), 4800), (("H100", "PCIe"), 2000), (("H100", "NVL"), 3900),
                  (("H100",), 3350), (("A100", "80GB"), 2039), (("A100",), 1555),
                  (("L40S",), 864), (("RTX 4090",), 1008)]


def nominal_peak_gbps(name: str) -> float | None:
    for words, gbps in PEAK_BANDWIDTH:
        if all(w in name for w in words):
            return gbps
    return None


def measured_copy_gbps(device: torch.device) -> float:
    """Device-to-device copy of 1 GiB: bytes read + written over time (a practical peak)."""
    x = torch.empty(1 << 28, dtype=torch.float32, device=device)
    y = torch.empty_like(x)
    return 2 * x.numel() * 4 / statistics.median(time_call(lambda: y.copy_(x), device, 10)) / 1e9


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_once(fn, device) -> float:
    _sync(device)
    t0 = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t0


def time_call(fn, device, repeats: int) -> list[float]:
    """Seconds per call: triton's do_bench (CUDA events, L2 flushed) on CUDA, else perf_counter."""
    if device.type == "cuda":
        from triton.testing import do_bench

        ms = do_bench(fn, warmup=25, rep=max(100, 10 * repeats), return_mode="all")
        return [t / 1e3 for t in ms]
    fn()  # warm-up
    return [_time_once(fn, device) for _ in range(repeats)]


def peak_extra_bytes(fn, device) -> int | None:
    """Peak memory allocated during one call, above what was allocated before it."""
    if device.type != "cuda":
        return None
    _sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    fn()
    _sync(device)
    return torch.cuda.max_memory_allocated(device) - before


def _pick(variant: str, reference, fused):
    if variant == "compile":
        return torch.compile(reference)
    return reference if variant == "eager" else fused


def make_op(op: str, rows: int, vocab: int, dtype, device, variant: str):
    """(callable, ideal bytes moved, input bytes) for one op / shape / variant."""
    g = torch.Generator(device=device).manual_seed(0)
    logits = torch.randn(rows, vocab, generator=g, device=device).to(dtype)
    mask_id = vocab - 1
    elt = logits.element_size()
    if op == "sampler":
        ref = lambda x: gumbel_sample_reference(x, mask_id, temperature=1.0)  # noqa: E731
        fused = lambda x: kernels.gumbel_sample_triton(x, mask_id, temperature=1.0,  # noqa: E731
                                                       seed=1)
        fn = _pick(variant, ref, fused)
        return (lambda: fn(logits)), rows * vocab * elt + rows * 28, rows * vocab * elt
    if op == "softmax":
        xt = torch.full((rows,), mask_id, device=device)
        ref = lambda x: masked_log_softmax_reference(x, mask_id, xt)  # noqa: E731
        fused = lambda x: kernels.masked_log_softmax_triton(x, mask_id, xt)  # noqa: E731
        fn = _pick(variant, ref, fused)
        return (lambda: fn(logits)), rows * vocab * (elt + 4) + rows * 8, rows * vocab * elt
    if op == "loss":
        targets = torch.randint(0, vocab - 1, (rows,), generator=g, device=device)
        weights = torch.rand(rows, generator=g, device=device) + 1.0
        leaf = logits.requires_grad_()
        ref = lambda x: elbo_cross_entropy_reference(x, targets, mask_id, weights)  # noqa: E731
        fused = lambda x: kernels.elbo_cross_entropy_triton(x, targets, mask_id,  # noqa: E731
                                                            weights)
        fn = _pick(variant, ref, fused)
        # the fused loss overwrites `leaf` with the gradient: later calls see other values,
        # which does not change its speed (no value-dependent branches)
        step = lambda: torch.autograd.grad(fn(leaf).sum(), leaf)  # noqa: E731
        return step, 2 * rows * vocab * elt + rows * 20, rows * vocab * elt
    raise ValueError(f"unknown op {op!r}; choose from {', '.join(OPS)}")


def bench_kernels(args, device, dtype, peak) -> list[dict]:
    rows_out = []
    for op in args.ops:
        for rows, vocab in args.shapes:
            for variant in args.variants:
                record = {"op": op, "rows": rows, "vocab": vocab, "dtype": str(dtype),
                          "variant": variant}
                try:
                    fn, nbytes, input_bytes = make_op(op, rows, vocab, dtype, device,
                                                      variant)
                    times = time_call(fn, device, args.repeats)
                    extra = peak_extra_bytes(fn, device)
                    med = statistics.median(times)
                    record.update(
                        seconds_median=med, seconds_min=min(times), seconds_max=max(times),
                        bytes=nbytes, gbps=nbytes / med / 1e9,
                        pct_peak=None if peak is None else 100 * nbytes / med / 1e9 / peak,
                        peak_extra_bytes=extra,
                        peak_total_over_input=None if extra is None
                        else (input_bytes + extra) / input_bytes)
                except torch.OutOfMemoryError:
                    record["error"] = "out of memory"
                except Exception as err:  # noqa: BLE001 - a failed variant is reported, not fatal
                    record["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
                finally:
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                rows_out.append(record)
                print(_line(record), flush=True)
    return rows_out


def _line(r: dict) -> str:
    head = f"{r['op']:8s} {r['rows']:>6d} x {r['vocab']:<6d} {r['variant']:8s}"
    if "error" in r:
        return f"{head} {r['error']}"
    pct = "" if r["pct_peak"] is None else f" {r['pct_peak']:5.1f}% peak"
    mem = "" if r["peak_extra_bytes"] is None else \
        f"  peak +{r['peak_extra_bytes'] / 2**20:8.1f} MiB ({r['peak_total_over_input']:.2f}x input)"
    return f"{head} {r['seconds_median'] * 1e3:9.3f} ms {r['gbps']:8.1f} GB/s{pct}{mem}"


@contextlib.contextmanager
def kernel_backend(name: str):
    old = os.environ.get(kernels.ENV_VAR)
    os.environ[kernels.ENV_VAR] = name
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(kernels.ENV_VAR, None)
        else:
            os.environ[kernels.ENV_VAR] = old


def bench_end_to_end(args, device) -> list[dict]:
    """Training step (forward, backward, AdamW; bf16 autocast) and sampling (a full generate call)
    of a GPT-2-vocabulary MDM, with the kernels off (reference) and on (auto)."""
    from maskdiff import (
        MaskedDiffusionModel,
        ModelConfig,
        SamplerConfig,
        diffusion_loss,
        generate,
        get_schedule,
    )

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=50257, seq_len=256, d_model=512, n_layers=6, n_heads=8)
    model = MaskedDiffusionModel(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x0 = torch.randint(0, cfg.vocab_size, (args.e2e_batch, cfg.seq_len), device=device)
    schedule = get_schedule("linear")

    def train_step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = diffusion_loss(model, x0, schedule).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def sample():
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
            generate(model, batch_size=args.e2e_batch, config=SamplerConfig(
                nfe=args.e2e_nfe, temperature=1.0), generator=torch.Generator(device=device)
                .manual_seed(0))

    out = []
    for name, fn in (("training step", train_step), ("sampling", sample)):
        for backend, label in (("reference", "kernels off"), ("auto", "kernels on")):
            with kernel_backend(backend):
                times = [_time_once(fn, device) for _ in range(args.e2e_repeats + 1)][1:]
            med = statistics.median(times)
            out.append({"what": name, "kernels": label, "seconds_median": med,
                        "seconds_min": min(times), "seconds_max": max(times),
                        "batch": args.e2e_batch, "seq_len": cfg.seq_len,
                        "vocab": cfg.vocab_size, "d_model": cfg.d_model,
                        "n_layers": cfg.n_layers, "nfe": args.e2e_nfe if name == "sampling"
                        else None})
            print(f"{name:14s} {label:11s} {med * 1e3:9.1f} ms (min {min(times) * 1e3:.1f}, "
                  f"max {max(times) * 1e3:.1f})", flush=True)
    return out


def merge_previous(path: Path, meta: dict, rows: list[dict]) -> list[dict]:
    """Keep the rows of an earlier run on the same device and versions that this run did not
    measure, so the table can be filled over several shorter runs (--ops / --shapes)."""
    if not path.exists():
        return rows
    old_rows, old_meta = read_results(path)
    if not all(old_meta.get(k) == meta[k] for k in ("device", "torch", "triton", "dtype")):
        print(f"{path}: written on another device or versions; replaced, not merged")
        return rows
    key = lambda r: (r["what"], r.get("op"), r.get("rows"), r.get("vocab"), r.get("variant"),  # noqa: E731
                     r.get("kernels"))
    fresh = {key(r) for r in rows}
    measured_e2e = any(r["what"] != "kernel" for r in rows)
    kept = [r for r in old_rows if key(r) not in fresh
            and (r["what"] == "kernel" or not measured_e2e)]
    kernel_rows = sorted([r for r in kept + rows if r["what"] == "kernel"],
                         key=lambda r: (OPS.index(r["op"]), r["rows"], r["vocab"],
                                        VARIANTS.index(r["variant"])))
    return kernel_rows + [r for r in kept + rows if r["what"] != "kernel"]


def render(rows: list[dict], meta: dict) -> str:
    lines = [f"Device: {meta['device']}; torch {meta['torch']}, triton {meta['triton']}, logits "
             f"{meta['dtype']}; nominal peak {meta['nominal_peak_gbps']} GB/s, measured copy "
             f"{meta['copy_gbps']} GB/s. Time is the median; GB/s counts the bytes the op must move "
             "at least; memory is the peak allocated during the call on top of the inputs, as a "
             "multiple of the logits' size.", "",
             "| op | rows | V | variant | ms | GB/s | % peak | peak mem / logits | vs eager |",
             "|---|---|---|---|---|---|---|---|---|"]
    kernel_rows = [r for r in rows if r["what"] == "kernel"]
    eager = {(r["op"], r["rows"], r["vocab"]): r for r in kernel_rows if r["variant"] == "eager"}
    for r in kernel_rows:
        if "error" in r:
            lines.append(f"| {r['op']} | {r['rows']} | {r['vocab']} | {r['variant']} | "
                         f"{r['error']} | | | | |")
            continue
        base = eager.get((r["op"], r["rows"], r["vocab"]))
        speedup = (f"{base['seconds_median'] / r['seconds_median']:.2f}x"
                   if base and "error" not in base else "")
        pct = "" if r["pct_peak"] is None else f"{r['pct_peak']:.1f}"
        mem = "" if r["peak_total_over_input"] is None else f"{r['peak_total_over_input']:.2f}"
        lines.append(f"| {r['op']} | {r['rows']} | {r['vocab']} | {r['variant']} | "
                     f"{r['seconds_median'] * 1e3:.3f} | {r['gbps']:.1f} | {pct} | {mem} | "
                     f"{speedup} |")
    e2e = [r for r in rows if r["what"] != "kernel"]
    if e2e:
        lines += ["", "## End to end (MDM, V = 50257, L = 256, d = 512, 6 layers, bf16 autocast)",
                  "", "| what | kernels | ms (median) | min | max |", "|---|---|---|---|---|"]
        lines += [f"| {r['what']} | {r['kernels']} | {r['seconds_median'] * 1e3:.1f} | "
                  f"{r['seconds_min'] * 1e3:.1f} | {r['seconds_max'] * 1e3:.1f} |" for r in e2e]
    return "\n".join(lines)


def _shape(text: str) -> tuple[int, int]:
    try:
        rows, vocab = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape {text!r} is not ROWSxV (e.g. 16384x50257)") from None
    if rows < 1 or vocab < 2:
        raise argparse.ArgumentTypeError(f"shape {text!r}: need rows >= 1 and V >= 2")
    return rows, vocab


def _names(allowed):
    def parse(text):
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(allowed)}")
        return names
    return parse


def add_arguments(p) -> None:
    p.add_argument("--ops", type=_names(OPS), default=list(OPS))
    p.add_argument("--variants", type=_names(VARIANTS), default=list(VARIANTS))
    p.add_argument("--shapes", type=lambda s: [_shape(x) for x in s.split(",")], default=SHAPES,
                   help="comma-separated ROWSxV (default: rows 1k/16k/64k x V 10/28/50257/151936)")
    p.add_argument("--dtype", choices=["bfloat16", "float16", "float32"], default="bfloat16")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--end-to-end", action="store_true")
    p.add_argument("--e2e-batch", type=int, default=32)
    p.add_argument("--e2e-nfe", type=int, default=64)
    p.add_argument("--e2e-repeats", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--cpu-results", action="store_true",
                   help="on a CPU, write the results anyway (they say nothing about GPU speed)")


def run(args) -> tuple[list[dict], dict]:
    dtype = getattr(torch, args.dtype)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible")
    if device.type != "cuda":
        print("No CUDA device: timings below are of the CPU harness and say nothing about the "
              "kernels' speed on a GPU.", flush=True)
        if "triton" in args.variants and not INTERPRETED:
            raise ValueError("the triton variant on a CPU needs TRITON_INTERPRET=1 "
                             "(or drop it: --variants eager,compile)")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = nominal_peak_gbps(name)
    import triton

    meta = {"device": name, "torch": torch.__version__, "triton": triton.__version__,
            "dtype": str(dtype), "nominal_peak_gbps": peak,
            "copy_gbps": round(measured_copy_gbps(device), 1) if device.type == "cuda" else None,
            # CPU timings are a check of the harness, not results: printed, not written
            "smoke": device.type != "cuda" and not args.cpu_results}
    print(json.dumps(meta), flush=True)
    rows = [{"what": "kernel", **r} for r in bench_kernels(args, device, dtype, peak)]
    if args.end_to_end:
        if device.type != "cuda":
            print("end-to-end: skipped (kernels on vs off is only meaningful on a CUDA device)")
        else:
            rows += bench_end_to_end(args, device)
    if getattr(args, "out", None) is not None:
        rows = merge_previous(Path(args.out) / "kernels.json", meta, rows)
    return rows, meta


BENCHMARK = Benchmark(name="kernels", title="Kernel benchmark", add_arguments=add_arguments,
                      run=run, render=render,
                      description="Fused kernels vs eager PyTorch vs torch.compile (CUDA)")


if __name__ == "__main__":
    raise SystemExit(benchmark_main(BENCHMARK))
