"""The GPU suite's dry run: every stage runs on the CPU at tiny sizes, so the suite is known to
work before a GPU is seen."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_dry_run_passes_every_stage():
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    env.pop("OUT", None)
    done = subprocess.run(["bash", "benchmarks/gpu_suite.sh", "--dry-run"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout[done.stdout.index("{\n"):done.stdout.rindex("}") + 1])
    assert summary["dry_run"] and [s["status"] for s in summary["stages"]] == ["passed"] * 4


def test_the_stage_caps_fit_the_suite_budget():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_suite
    finally:
        sys.path.pop(0)
    # 12 minutes in all, two of them left for the install and the start of each stage.
    assert sum(stage.cap for stage in gpu_suite.STAGES) <= 10 * 60
    assert all(stage.gpu and stage.dry for stage in gpu_suite.STAGES)
