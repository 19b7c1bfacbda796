#!/usr/bin/env bash
# The GPU suite in one command (stages and caps: benchmarks/gpu_suite.py, README "GPU suite").
#
#   bash benchmarks/gpu_suite.sh             on a GPU machine: install, then every stage (<= 12 min)
#   bash benchmarks/gpu_suite.sh --dry-run   the same stages on the CPU at tiny sizes
#
# The install never touches the machine's torch or triton: the package goes in with --no-deps,
# and the few pure-Python packages it needs come from a wheel folder when the machine has no
# network (MASKDIFF_WHEELS, default runs/wheels; `bash benchmarks/gpu_wheels.sh` fills it).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
if [[ " $* " != *" --dry-run "* ]]; then
    wheels="${MASKDIFF_WHEELS:-runs/wheels}"
    missing=$("$PYTHON" - <<'PY'
import importlib.util
need = {"accelerate": "accelerate", "tqdm": "tqdm", "yaml": "pyyaml", "pytest": "pytest",
        "safetensors": "safetensors", "psutil": "psutil", "huggingface_hub": "huggingface_hub",
        "matplotlib": "matplotlib"}
print(" ".join(pkg for mod, pkg in need.items() if importlib.util.find_spec(mod) is None))
PY
)
    if [[ -n "$missing" ]]; then
        echo "installing: $missing"
        if [[ -d "$wheels" ]]; then
            timeout 120 "$PYTHON" -m pip install -q --no-index --find-links "$wheels" $missing \
                || echo "could not install every package from $wheels; stages that need them will fail"
        else
            timeout 120 "$PYTHON" -m pip install -q $missing \
                || echo "could not install $missing (no network and no $wheels); stages that need them will fail"
        fi
    fi
    timeout 120 "$PYTHON" -m pip install -q --no-deps --no-build-isolation -e . \
        || echo "editable install failed; running from the checkout"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" benchmarks/gpu_suite.py "$@"
