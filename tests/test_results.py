"""The benchmark harness: data file with metadata, generated page, README block, --render."""

import argparse

import pytest

from maskdiff.results import (
    Benchmark,
    add_harness_arguments,
    read_results,
    replace_readme_block,
    run_benchmark,
)


def _benchmark(calls):
    def run(args):
        calls.append(args.size)
        return [{"size": args.size, "value": 2 * args.size}], {"smoke": args.smoke}

    def add_arguments(parser):
        parser.add_argument("--size", type=int, default=3)
        parser.add_argument("--smoke", action="store_true")

    return Benchmark(name="toy", title="Toy results", add_arguments=add_arguments, run=run,
                     render=lambda rows, meta: f"value {rows[0]['value']}",
                     headline=lambda rows, meta: f"| value |\n|---|\n| {rows[0]['value']} |")


def _args(bench, tmp_path, *argv):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    add_harness_arguments(parser, tmp_path / "results", tmp_path / "docs", tmp_path / "README.md")
    return parser.parse_args(list(argv))


def test_run_writes_data_page_and_headline_then_render_reruns_nothing(tmp_path):
    calls = []
    bench = _benchmark(calls)
    (tmp_path / "README.md").write_text("intro\n<!-- results:toy -->\nold\n<!-- /results:toy -->\nend\n")
    run_benchmark(bench, _args(bench, tmp_path, "--size", "5"), command="python benchmarks/toy.py")
    rows, meta = read_results(tmp_path / "results" / "toy.json")
    assert rows == [{"size": 5, "value": 10}]
    assert meta["command"] == "python benchmarks/toy.py" and meta["wall_seconds"] >= 0
    assert meta["hardware"] and meta["versions"]["torch"]
    page = (tmp_path / "docs" / "toy.md").read_text()
    assert page.startswith("# Toy results") and "value 10" in page and "toy.json" in page
    assert (tmp_path / "README.md").read_text() == (
        "intro\n<!-- results:toy -->\n| value |\n|---|\n| 10 |\n<!-- /results:toy -->\nend\n")
    (tmp_path / "docs" / "toy.md").unlink()
    run_benchmark(bench, _args(bench, tmp_path, "--render"))
    assert calls == [5] and "value 10" in (tmp_path / "docs" / "toy.md").read_text()


def test_a_smoke_run_writes_nothing(tmp_path):
    bench = _benchmark([])
    run_benchmark(bench, _args(bench, tmp_path, "--smoke"))
    assert not (tmp_path / "results").exists() and not (tmp_path / "docs").exists()


def test_render_without_data_is_a_clear_error(tmp_path):
    bench = _benchmark([])
    with pytest.raises(FileNotFoundError, match="run the benchmark first"):
        run_benchmark(bench, _args(bench, tmp_path, "--render"))
    assert replace_readme_block(tmp_path / "missing.md", "toy", "x") is False


def test_committed_pages_are_what_the_data_renders(tmp_path):
    """Every committed results page equals what its benchmark renders from the committed data."""
    from pathlib import Path

    from maskdiff.results import render_page
    from maskdiff.tasks.sudoku.ablation import BENCHMARK as SUDOKU_RECIPES
    from maskdiff.tasks.sudoku.benchmark import BENCHMARK as SUDOKU
    from maskdiff.tasks.synthetic.ablation import BENCHMARK as SYNTHETIC_ONESTEP
    from maskdiff.tasks.synthetic.benchmark import BENCHMARK as SYNTHETIC
    from maskdiff.tasks.text.benchmark import BENCHMARK as TEXT

    root = Path(__file__).resolve().parents[1]
    for bench in (SUDOKU, SUDOKU_RECIPES, SYNTHETIC, SYNTHETIC_ONESTEP, TEXT):
        rows, meta = read_results(root / "benchmarks" / "results" / f"{bench.name}.json")
        page = (root / "docs" / "results" / f"{bench.name}.md").read_text()
        assert page == render_page(bench, rows, meta), f"docs/results/{bench.name}.md is stale"
