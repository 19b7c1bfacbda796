#!/usr/bin/env bash
# Fill a wheel folder (default runs/wheels) with what the GPU suite may need to install on a
# machine without network: pure-Python wheels, and the compiled ones for CPython 3.10-3.13.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/wheels}"
mkdir -p "$out"
python3 -m pip download -q --no-deps -c constraints.txt -d "$out" accelerate tqdm huggingface_hub pytest pluggy \
    iniconfig packaging filelock fsspec typing_extensions requests
for py in 310 311 312 313; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$py" \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -c constraints.txt -d "$out" \
        pyyaml psutil safetensors || echo "some wheels for CPython $py are missing"
done
du -sh "$out"
