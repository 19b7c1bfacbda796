"""The GPU suite: every measurement that needs a GPU, as one command with a time cap per stage.

    bash benchmarks/gpu_suite.sh                 # on one H100/H200: about 11 minutes at most
    bash benchmarks/gpu_suite.sh --dry-run       # the same stages on the CPU at tiny sizes

Stages run in order; each has its own time cap and its own log, and a stage that fails or runs
out of time does not stop the next one. Results go under benchmarks/results/gpu/ (the kernel
benchmark into benchmarks/results/, where its page lives), and a summary of the stages with the
device named goes to benchmarks/results/gpu/gpu_suite.json. With $OUT set (or --copy-to), every
result file and log is also copied there. Only the standard library is imported here, so the
runner works before anything else is installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path("benchmarks/results")
GPU_RESULTS = RESULTS / "gpu"
SUDOKU_RUN = Path("runs/gpu/sudoku-mdm-pool-gpu")


@dataclass
class Stage:
    """name: what it measures; cap: seconds before it is stopped; gpu / dry: its command line on
    the device and in the dry run (a list of arguments; "{python}" and "{tmp}" are filled in)."""

    name: str
    cap: int
    gpu: list[str]
    dry: list[str]
    env: dict | None = None


KERNEL_TESTS = ["tests/test_kernels_dispatch.py", "tests/test_kernels_elbo_loss.py",
                "tests/test_kernels_masked_softmax.py", "tests/test_kernels_sampler.py",
                "tests/test_kernels_reference.py"]

STAGES = [
    Stage("kernel tests on CUDA", 80,
          ["{python}", "-m", "pytest", "-q", "-x", *KERNEL_TESTS],
          ["{python}", "-m", "pytest", "-q", "-x", "tests/test_kernels_dispatch.py"],
          env={"MASKDIFF_TEST_DEVICE": "cuda", "TRITON_INTERPRET": "0"}),
    Stage("kernel benchmark and end-to-end step and sampling times, kernels off and on", 140,
          ["{python}", "benchmarks/kernels.py", "--end-to-end"],
          ["{python}", "benchmarks/kernels.py", "--end-to-end", "--cpu-results", "--shapes",
           "64x128", "--repeats", "1", "--e2e-batch", "2", "--e2e-nfe", "2", "--e2e-repeats", "1",
           "--variants", "eager", "--out", "{tmp}/results", "--docs", "{tmp}/docs",
           "--readme", "{tmp}/README.md"]),
    Stage("Sudoku GPU recipe (bf16, batch 1,024)", 320,
          ["{python}", "-m", "maskdiff", "sudoku", "train", "--model", "mdm-pool-gpu",
           "--out", str(SUDOKU_RUN)],
          ["{python}", "-m", "maskdiff", "sudoku", "train", "--model", "mdm-pool-gpu",
           "--out", "{tmp}/sudoku", "--steps", "2", "--set", "data.pool_size=16",
           "data.validation_size=4", "data.rounds_workers=1", "train.batch_size=8",
           "train.mixed_precision='no'"]),
    Stage("Sudoku benchmark of the GPU-trained model", 60,
          ["{python}", "benchmarks/sudoku.py", "--models", str(SUDOKU_RUN / "model"),
           "--nfe", "5", "10", "20", "--orders", "top-prob-margin", "--best-of", "1",
           "--decodings", "--per-bucket", "300", "--out", str(GPU_RESULTS),
           "--docs", str(GPU_RESULTS), "--readme", "{tmp}/README.md"],
          ["{python}", "benchmarks/sudoku.py", "--models", "{tmp}/sudoku/model", "--nfe", "2",
           "--orders", "top-prob-margin", "--best-of", "1", "--decodings", "--per-bucket", "2",
           "--calibration-nfe", "2", "--out", "{tmp}/results", "--docs", "{tmp}/docs",
           "--readme", "{tmp}/README.md"]),
]


def _device() -> str:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip() or "no GPU found"
    except (OSError, subprocess.TimeoutExpired):
        return "no GPU found"


def run_stage(stage: Stage, dry: bool, tmp: Path, logs: Path) -> dict:
    """Run one stage under its cap; its status, seconds and log file."""
    command = [a.format(python=sys.executable, tmp=tmp) for a in (stage.dry if dry else stage.gpu)]
    env = {**os.environ, **({} if dry else stage.env or {})}
    log = logs / (stage.name.split()[0].lower() + "-" + str(STAGES.index(stage)) + ".log")
    print(f"[{stage.name}] up to {stage.cap} s: {' '.join(command)}", flush=True)
    start = time.monotonic()
    with log.open("w") as fh:
        try:
            code = subprocess.run(command, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=stage.cap).returncode
            status = "passed" if code == 0 else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            status = f"stopped at its cap of {stage.cap} s"
    seconds = round(time.monotonic() - start, 1)
    print(f"[{stage.name}] {status} in {seconds} s (log: {log})", flush=True)
    return {"stage": stage.name, "cap_seconds": stage.cap, "status": status, "seconds": seconds,
            "command": " ".join(command).replace(str(tmp), "$TMP").replace(sys.executable, "python"),
            "log": str(log.relative_to(ROOT)) if log.is_relative_to(ROOT) else log.name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="run every stage on the CPU at tiny sizes; write nothing in the checkout")
    parser.add_argument("--copy-to", type=Path, default=os.environ.get("OUT"),
                        help="also copy results and logs here (default: $OUT when set)")
    parser.add_argument("--stages", default=None,
                        help="comma-separated stage numbers to run (default: all), e.g. 1,2")
    args = parser.parse_args(argv)
    chosen = STAGES if args.stages is None else [STAGES[int(i) - 1] for i in args.stages.split(",")]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        logs = tmp / "logs" if args.dry_run else ROOT / GPU_RESULTS / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        env_home = {} if not args.dry_run else {"MASKDIFF_HOME": str(tmp / "home")}
        os.environ.update(env_home)
        if args.dry_run:
            _tiny_pool(tmp)
        device = "CPU (dry run)" if args.dry_run else _device()
        start = time.monotonic()
        stages = [run_stage(stage, args.dry_run, tmp, logs) for stage in chosen]
        summary = {"device": device, "date": datetime.date.today().isoformat(),
                   "dry_run": args.dry_run, "wall_seconds": round(time.monotonic() - start, 1),
                   "stages": stages}
        target = tmp / "gpu_suite.json" if args.dry_run else ROOT / GPU_RESULTS / "gpu_suite.json"
        target.write_text(json.dumps(summary, indent=1) + "\n")
        print(json.dumps(summary, indent=1))
        if args.copy_to and not args.dry_run:
            _copy_results(Path(args.copy_to))
        failed = [s for s in stages if s["status"] != "passed"]
        if args.dry_run:
            for s in failed:
                print(f"--- log of {s['stage']} ---\n" + (logs / Path(s["log"]).name).read_text()[-3000:])
    return 1 if failed else 0


def _tiny_pool(tmp: Path) -> None:
    """A few pool puzzles in the dry run's data home (the real pool has 50,000)."""
    subprocess.run([sys.executable, "-m", "maskdiff", "sudoku", "pool", "--count", "24",
                    "--workers", "1"], cwd=ROOT, check=True, capture_output=True)


def _copy_results(target: Path) -> None:
    """Every result file the suite may have written, and the logs, into `target`."""
    for item in (RESULTS, Path("docs/results"), Path("README.md"), SUDOKU_RUN):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, target / item, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("checkpoint*", "*.pt"))
        elif source.is_file():
            (target / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / item)


if __name__ == "__main__":
    raise SystemExit(main())
