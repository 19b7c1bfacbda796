"""Task adapters (installed as `maskdiff.tasks`), one package per task.

A task package depends on the engine, never the other way round. It exposes `add_commands(
subparsers)` (its `maskdiff <task> ...` sub-commands; the `maskdiff` command finds every package
here that has it) and, to train from a recipe file with `maskdiff train --config`, a `cli` module
with `train_from_recipe(recipe, out_dir, resume) -> int` (and `read_recipe(raw, source) -> Recipe`
when the task fills in fields, as text does with the vocabulary size).
Adding a task is adding a folder.
"""
