"""The kernel benchmark's harness, run on the CPU (interpreter) with tiny shapes."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "kernels.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("kernel_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(bench, tmp_path, *argv):
    """The script's entry point on the CPU, results into tmp_path (page too)."""
    return bench.benchmark_main(bench.BENCHMARK, [*argv, "--cpu-results", "--out", str(tmp_path),
                                                  "--docs", str(tmp_path), "--readme",
                                                  str(tmp_path / "none.md")])


def test_harness_writes_every_op_and_variant(tmp_path):
    bench = load_benchmark()
    assert run(bench, tmp_path, "--shapes", "64x10,4x300", "--variants", "eager,triton",
               "--repeats", "2") == 0
    result = json.loads((tmp_path / "kernels.json").read_text())
    assert result["meta"]["triton"] and result["meta"]["torch"] and result["meta"]["hardware"]
    rows = [r for r in result["rows"] if r["what"] == "kernel"]
    assert {(r["op"], r["rows"], r["vocab"], r["variant"]) for r in rows} == {
        (op, r, v, var) for op in bench.OPS for r, v in ((64, 10), (4, 300))
        for var in ("eager", "triton")}
    for r in rows:
        assert "error" not in r, r
        assert 0 < r["seconds_min"] <= r["seconds_median"] <= r["seconds_max"]
        assert r["gbps"] == pytest.approx(r["bytes"] / r["seconds_median"] / 1e9)
    table = (tmp_path / "kernels.md").read_text()
    assert table.count("| sampler |") == 4 and "torch " in table


def test_later_runs_fill_the_table(tmp_path):
    bench = load_benchmark()
    common = ["--shapes", "64x10", "--variants", "eager", "--repeats", "1"]
    run(bench, tmp_path, *common, "--ops", "loss")
    run(bench, tmp_path, *common, "--ops", "sampler,softmax")
    rows = json.loads((tmp_path / "kernels.json").read_text())["rows"]
    assert [r["op"] for r in rows] == ["sampler", "softmax", "loss"]


def test_bad_arguments_are_clear_errors(capsys):
    bench = load_benchmark()
    with pytest.raises(SystemExit):
        bench.benchmark_main(bench.BENCHMARK, ["--shapes", "64by10"])
    assert "is not ROWSxV" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.benchmark_main(bench.BENCHMARK, ["--ops", "sampler,warp"])
    assert "choose from sampler, softmax, loss" in capsys.readouterr().err


def test_nominal_peaks():
    bench = load_benchmark()
    assert bench.nominal_peak_gbps("NVIDIA H100 80GB HBM3") == 3350
    assert bench.nominal_peak_gbps("NVIDIA H100 PCIe") == 2000
    assert bench.nominal_peak_gbps("NVIDIA H200") == 4800
    assert bench.nominal_peak_gbps("CPU") is None


def test_cpu_timings_are_printed_not_written(tmp_path):
    bench = load_benchmark()
    assert bench.benchmark_main(bench.BENCHMARK, ["--shapes", "8x10", "--variants", "eager",
                                                  "--repeats", "1", "--out", str(tmp_path),
                                                  "--docs", str(tmp_path)]) == 0
    assert not list(tmp_path.iterdir())
