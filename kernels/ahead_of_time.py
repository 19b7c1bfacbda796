"""Compile every kernel for a GPU architecture without a GPU, and report what the compiler made.

Triton's NVIDIA backend ships ptxas, so the kernels can be lowered all the way to a cubin on any
Linux machine. This catches what the interpreter (used by the CPU tests) does not: type errors in
the real lowering, and register pressure or spills (read from the cubin with cuobjdump).

    TRITON_INTERPRET=0 python -m maskdiff.kernels.ahead_of_time [--arch 90]

Must run without TRITON_INTERPRET=1 (interpreted kernels cannot be compiled).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile

from .triton_support import INTERPRETED, TRITON_AVAILABLE, tile_shape, triton

__all__ = ["kernel_specs", "compile_all"]

# The tiles tile_shape() picks on a GPU for the benchmark's vocabularies (10, 28, 1000, 50257).
TILES = tuple(dict.fromkeys(tile_shape(65536, v, interpreted=False) for v in (10, 28, 1000, 50257)))


def kernel_specs():
    """(name, kernel, signature, constexprs) for every kernel, bf16 logits."""
    from .elbo_loss_triton import _elbo_cross_entropy_kernel
    from .masked_softmax_triton import _masked_log_softmax_bwd, _masked_log_softmax_fwd
    from .sampler_triton import _gumbel_sample_kernel

    row_args = {"n_rows": "i32", "vocab": "i32"}
    return [
        ("gumbel_sample", _gumbel_sample_kernel,
         {"logits_ptr": "*bf16", "token_ptr": "*i64", "token_prob_ptr": "*fp32",
          "top1_ptr": "*fp32", "top2_ptr": "*fp32", "argmax_ptr": "*i64", "entropy_ptr": "*fp32",
          **row_args, "stride_row": "i32", "mask_id": "i32", "scale": "fp32", "seed_ptr": "*i64"},
         {"GREEDY": False, "WITH_ENTROPY": True, "ONE_TILE": False, "N_ROUNDS": 10}),
        ("gumbel_sample (one tile)", _gumbel_sample_kernel,
         {"logits_ptr": "*bf16", "token_ptr": "*i64", "token_prob_ptr": "*fp32",
          "top1_ptr": "*fp32", "top2_ptr": "*fp32", "argmax_ptr": "*i64", "entropy_ptr": "*fp32",
          **row_args, "stride_row": "i32", "mask_id": "i32", "scale": "fp32", "seed_ptr": "*i64"},
         {"GREEDY": False, "WITH_ENTROPY": True, "ONE_TILE": True, "N_ROUNDS": 10}),
        ("gumbel_sample (greedy)", _gumbel_sample_kernel,
         {"logits_ptr": "*bf16", "token_ptr": "*i64", "token_prob_ptr": "*fp32",
          "top1_ptr": "*fp32", "top2_ptr": "*fp32", "argmax_ptr": "*i64", "entropy_ptr": "*fp32",
          **row_args, "stride_row": "i32", "mask_id": "i32", "scale": "fp32", "seed_ptr": "*i64"},
         {"GREEDY": True, "WITH_ENTROPY": False, "ONE_TILE": False, "N_ROUNDS": 10}),
        ("masked_log_softmax fwd", _masked_log_softmax_fwd,
         {"logits_ptr": "*bf16", "xt_ptr": "*i64", "out_ptr": "*fp32", "lse_ptr": "*fp32",
          **row_args, "stride_row": "i32", "mask_id": "i32"},
         {"HAS_XT": True}),
        ("masked_log_softmax bwd", _masked_log_softmax_bwd,
         {"grad_ptr": "*fp32", "logp_ptr": "*fp32", "xt_ptr": "*i64", "dx_ptr": "*bf16",
          **row_args, "mask_id": "i32"},
         {"HAS_XT": True}),
        ("elbo_cross_entropy", _elbo_cross_entropy_kernel,
         {"logits_ptr": "*bf16", "grad_ptr": "*bf16", "targets_ptr": "*i64",
          "weights_ptr": "*fp32", "loss_ptr": "*fp32", **row_args, "stride_row": "i32",
          "grad_stride_row": "i32", "mask_id": "i32"},
         {"HAS_WEIGHTS": True, "WRITE_GRAD": True}),
    ]


def _resource_usage(cubin: bytes) -> dict:
    """Registers / stack / local memory per thread, from cuobjdump (empty if it is missing)."""
    try:
        import triton.backends.nvidia as nvidia_backend

        tool = os.path.join(os.path.dirname(nvidia_backend.__file__), "bin", "cuobjdump")
        with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
            f.write(cubin)
            f.flush()
            text = subprocess.run([tool, "--dump-resource-usage", f.name], capture_output=True,
                                  text=True, check=True).stdout
    except (ImportError, OSError, subprocess.CalledProcessError):
        return {}
    found = dict(re.findall(r"\b(REG|STACK|LOCAL):(\d+)", text))
    return {k.lower(): int(v) for k, v in found.items()}


def compile_all(arch: int = 90) -> list[dict]:
    """Compile each kernel in each tile regime to a cubin for sm_`arch`; one record per build."""
    if not TRITON_AVAILABLE:
        raise RuntimeError("triton is not installed")
    from triton.backends.compiler import GPUTarget

    target = GPUTarget("cuda", arch, 32)
    records = []
    if INTERPRETED:
        raise RuntimeError("kernels were defined under TRITON_INTERPRET=1; run with "
                           "TRITON_INTERPRET=0 to compile them")
    for name, kernel, signature, constexprs in kernel_specs():
        for block_r, block_v, warps in TILES:
            consts = {**constexprs, "BLOCK_R": block_r, "BLOCK_V": block_v}
            sig = {**signature, **{k: "constexpr" for k in consts}}
            src = triton.compiler.ASTSource(fn=kernel, signature=sig, constexprs=consts)
            compiled = triton.compile(src, target=target, options={"num_warps": warps})
            records.append({"kernel": name, "block_r": block_r, "block_v": block_v,
                            "num_warps": warps, "arch": f"sm_{arch}",
                            "cubin_bytes": len(compiled.asm["cubin"]),
                            "shared_bytes": compiled.metadata.shared,
                            **_resource_usage(compiled.asm["cubin"])})
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", type=int, default=90, help="compute capability x10 (90: H100)")
    parser.add_argument("--json", action="store_true", help="print the records as JSON")
    args = parser.parse_args(argv)
    records = compile_all(args.arch)
    if args.json:
        print(json.dumps(records))
        return
    print(f"{'kernel':26s} {'tile':>9s} warps {'regs':>4s} {'spill':>5s} {'shared':>7s}")
    for r in records:
        spill = r.get("stack", 0) + r.get("local", 0) if "reg" in r else "?"
        print(f"{r['kernel']:26s} {r['block_r']:>4d}x{r['block_v']:<4d} {r['num_warps']:>5d} "
              f"{r.get('reg', '?'):>4} {spill:>5} {r['shared_bytes']:>7d}")


if __name__ == "__main__":
    main()
