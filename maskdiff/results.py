"""One harness for every benchmark: run, record, render.

A `Benchmark` says how to run (rows of numbers plus metadata) and how to render (a markdown page,
optionally a headline table for the README and figures). `run_benchmark` does the rest the same
way for all of them:

- `<out>/<name>.json`: `{"meta": {...}, "rows": [...]}`, where meta always holds the command, the
  date, the wall time, the hardware and the software versions;
- `<docs>/<name>.md`: the results page, generated from that file (never edited by hand);
- the README's headline block between `<!-- results:<name> -->` and `<!-- /results:<name> -->`;
- with `--render`, nothing is re-run: the page, headline and figures are rebuilt from the data file.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .hardware import hardware_description, software_versions

__all__ = ["Benchmark", "run_benchmark", "benchmark_main", "add_benchmark_command",
           "write_results", "read_results", "run_metadata", "replace_readme_block",
           "markdown_table", "render_page", "merge_seeds"]

Rows = list[dict]


@dataclass
class Benchmark:
    """name: data file and page name; title: the page's heading; add_arguments(parser): the
    benchmark's own options; run(args) -> (rows, meta); render(rows, meta) -> markdown page body;
    headline(rows, meta) -> a short markdown table for the README (optional);
    figures(rows, meta, folder) -> paths of the figures it wrote next to the data (optional)."""

    name: str
    title: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], tuple[Rows, dict]]
    render: Callable[[Rows, dict], str]
    headline: Callable[[Rows, dict], str] | None = None
    figures: Callable[[Rows, dict, Path], list[Path]] | None = None
    description: str = ""


def _portable(command: str) -> str:
    """The command with this checkout's (and the working folder's) absolute paths made relative,
    so that a results file names no machine's folders."""
    root = Path(__file__).resolve().parents[1]
    for folder in {str(root), os.getcwd()}:
        command = command.replace(folder + os.sep, "").replace(folder, ".")
    return command


def run_metadata(command: str, wall_seconds: float | None, **extra) -> dict:
    """What every results file records about the run that made it."""
    return {"command": _portable(command), "date": datetime.date.today().isoformat(),
            "wall_seconds": None if wall_seconds is None else round(wall_seconds, 1),
            "hardware": hardware_description(), "versions": software_versions(), **extra}


def write_results(path: str | Path, rows: Rows, meta: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    tmp.replace(path)
    return path


def read_results(path: str | Path) -> tuple[Rows, dict]:
    """(rows, meta) of a data file written by `write_results`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}; run the benchmark first")
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or "rows" not in data:
        raise ValueError(f"{path} is not a results file (expected {{'meta': ..., 'rows': ...}})")
    return data["rows"], data.get("meta", {})


def replace_readme_block(readme: str | Path, name: str, table: str) -> bool:
    """Put `table` between the README's `<!-- results:name -->` markers; False if it has none."""
    readme = Path(readme)
    if not readme.is_file():
        return False
    text = readme.read_text()
    pattern = re.compile(rf"(<!-- results:{re.escape(name)} -->\n).*?(<!-- /results:{re.escape(name)} -->)",
                         re.S)
    if not pattern.search(text):
        return False
    readme.write_text(pattern.sub(lambda m: m.group(1) + table.rstrip() + "\n" + m.group(2), text))
    return True


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A markdown table from a header and rows of cells (cells are str()-ed)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def merge_seeds(rows: Rows, key: Callable[[dict], object], fields: tuple[str, ...]) -> Rows:
    """One row per key: rows trained with several seeds become the first one with each of
    `fields` (where present) replaced by its mean over them, the sample standard deviation in
    `<field>_sd`, and the number of seeds in `seeds`; a single row passes through with seeds 1."""
    groups: dict[object, list[dict]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    merged = []
    for group in groups.values():
        row = dict(group[0], seeds=len(group))
        if len(group) > 1:
            for field in [f for f in fields if f in row]:
                values = [g[field] for g in group]
                row[field], row[f"{field}_sd"] = statistics.fmean(values), statistics.stdev(values)
        merged.append(row)
    return merged


def _provenance(meta: dict, data_name: str) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items())
    wall = meta.get("wall_seconds")
    parts = [f"Generated from `benchmarks/results/{data_name}` by `{meta.get('command', '?')}`"
             + (f" on {meta['date']}" if meta.get("date") else "") + "."]
    if meta.get("hardware"):
        parts.append(f"Hardware: {meta['hardware']}.")
    if wall is not None:
        parts.append(f"Wall time of the run: {wall:,.0f} s.")
    if versions:
        parts.append(f"Versions: {versions}.")
    if meta.get("note"):
        parts.append(meta["note"])
    return " ".join(parts)


def render_page(benchmark: Benchmark, rows: Rows, meta: dict) -> str:
    return (f"# {benchmark.title}\n\n"
            f"<!-- generated by the benchmark; edit its render function, not this page -->\n\n"
            f"{benchmark.render(rows, meta).rstrip()}\n\n---\n\n"
            f"{_provenance(meta, benchmark.name + '.json')}\n")


def add_harness_arguments(parser: argparse.ArgumentParser, out: Path | None,
                          docs: Path | None, readme: Path | None) -> None:
    parser.add_argument("--out", type=Path, default=out,
                        help=f"folder for {'{name}'}.json and figures (default: {out})")
    parser.add_argument("--docs", type=Path, default=docs,
                        help=f"folder for the results page (default: {docs})")
    parser.add_argument("--readme", type=Path, default=readme,
                        help="README whose headline block is updated (default: %(default)s)")
    parser.add_argument("--render", action="store_true",
                        help="rebuild the page, headline and figures from the data file; run nothing")


def add_benchmark_command(parser: argparse.ArgumentParser, benchmark: Benchmark) -> None:
    """Make `parser` (e.g. `maskdiff <task> bench`) run `benchmark`: its options, the harness's
    --out/--docs/--readme/--render (nothing written unless asked), and the handler."""
    benchmark.add_arguments(parser)
    add_harness_arguments(parser, out=None, docs=None, readme=None)
    parser.set_defaults(handler=functools.partial(_run_command, benchmark))


def _run_command(benchmark: Benchmark, args: argparse.Namespace) -> int:
    run_benchmark(benchmark, args)
    return 0


def run_benchmark(benchmark: Benchmark, args: argparse.Namespace,
                  command: str | None = None) -> tuple[Rows, dict]:
    """Run (or, with args.render, reload) a benchmark and write everything its arguments ask for.
    A smoke run (meta["smoke"]) is printed, never written."""
    out, docs, readme = getattr(args, "out", None), getattr(args, "docs", None), \
        getattr(args, "readme", None)
    data_path = None if out is None else Path(out) / f"{benchmark.name}.json"
    if getattr(args, "render", False):
        if data_path is None:
            raise ValueError("--render needs --out (the folder that holds the data file)")
        rows, meta = read_results(data_path)
    else:
        t0 = time.perf_counter()
        rows, extra = benchmark.run(args)
        command = command or "maskdiff " + shlex.join(sys.argv[1:])
        meta = run_metadata(command, time.perf_counter() - t0, **extra)
        if meta.get("smoke"):
            print(benchmark.render(rows, meta))
            return rows, meta
        if data_path is not None:
            write_results(data_path, rows, meta)
            print(f"wrote {data_path}")
    page = render_page(benchmark, rows, meta)
    if docs is not None:
        Path(docs).mkdir(parents=True, exist_ok=True)
        (Path(docs) / f"{benchmark.name}.md").write_text(page)
        print(f"wrote {Path(docs) / (benchmark.name + '.md')}")
    else:
        print(page)
    if readme is not None and benchmark.headline is not None:
        if replace_readme_block(readme, benchmark.name, benchmark.headline(rows, meta)):
            print(f"updated the {benchmark.name} headline in {readme}")
    if data_path is not None and benchmark.figures is not None:
        for path in benchmark.figures(rows, meta, data_path.parent):
            print(f"wrote {path}")
    return rows, meta


def benchmark_main(benchmark: Benchmark, argv: list[str] | None = None) -> int:
    """Entry point of a `benchmarks/<name>.py` script: results into the checkout's
    benchmarks/results/, the page into docs/results/, the headline into README.md."""
    root = Path(sys.argv[0]).resolve().parent.parent
    parser = argparse.ArgumentParser(description=benchmark.description or benchmark.title)
    benchmark.add_arguments(parser)
    add_harness_arguments(parser, root / "benchmarks" / "results", root / "docs" / "results",
                          root / "README.md")
    args = parser.parse_args(argv)
    script = Path(sys.argv[0])
    command = shlex.join(["python", f"benchmarks/{script.name}", *(argv if argv is not None
                                                                    else sys.argv[1:])])
    try:
        run_benchmark(benchmark, args, command=command)
    except (ValueError, FileNotFoundError) as err:
        print(f"{script.name}: error: {err}", file=sys.stderr)
        return 2
    return 0
