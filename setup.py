"""Package discovery (the rest of the metadata is in pyproject.toml): the engine (with the
accelerate launch configs in maskdiff/configs/accelerate), plus `kernels/` and every task folder
under `tasks/` installed beneath `maskdiff`, each task with its data."""

from setuptools import find_packages, setup

engine = ["maskdiff", *(f"maskdiff.{p}" for p in find_packages("maskdiff"))]
tasks = ["maskdiff.tasks", *(f"maskdiff.tasks.{p}" for p in find_packages("tasks"))]

setup(packages=[*engine, "maskdiff.kernels", *tasks],
      package_data={"maskdiff.configs": ["accelerate/*.yaml"],
                    **{p: ["data/**/*", "configs/*"] for p in tasks}})
