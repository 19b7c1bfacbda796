"""`python -m maskdiff.configs NAME`: print the path of a shipped accelerate config."""

import sys

from . import ACCELERATE_CONFIGS, accelerate_config

if len(sys.argv) != 2 or sys.argv[1] not in ACCELERATE_CONFIGS:
    sys.exit(f"usage: python -m maskdiff.configs NAME, NAME one of {list(ACCELERATE_CONFIGS)}")
print(accelerate_config(sys.argv[1]))
