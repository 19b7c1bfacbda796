"""The kernel benchmark's harness, run on the CPU (interpreter) with tiny shapes."""

import argparse
import importlib.util
import json
from pathlib import Path

import pytest
import torch

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


def test_every_nominal_peak_row_is_reachable():
    """The first matching row wins: a generic row ("H100") placed before a specific one ("H100
    PCIe") would shadow it."""
    bench = load_benchmark()
    for words, gbps in bench.PEAK_BANDWIDTH:
        assert bench.nominal_peak_gbps("NVIDIA " + " ".join(words)) == gbps, words
    assert bench.nominal_peak_gbps("CPU") is None


def test_bytes_bandwidth_and_table_come_from_the_measurement():
    bench = load_benchmark()
    cpu = torch.device("cpu")
    # Bytes each op must move for 64 rows x V = 10 in bfloat16 (2 bytes), counted by hand.
    logits = 64 * 10 * 2
    expected = {
        # read the logits; write token and argmax (int64), p(token), top-1 and top-2 (float32)
        "sampler": logits + 64 * (8 + 8 + 4 + 4 + 4),
        # read the logits and xt (int64 per row); write float32 log-probabilities
        "softmax": logits + 64 * 10 * 4 + 64 * 8,
        # read the logits, write their gradient; targets (int64), weights, loss, its gradient
        "loss": 2 * logits + 64 * (8 + 4 + 4 + 4),
    }
    for op, nbytes in expected.items():
        _, moved, input_bytes = bench.make_op(op, 64, 10, torch.bfloat16, cpu, "eager")
        assert (moved, input_bytes) == (nbytes, logits), op
    # The sampler's count matches what the call really returns.
    fn, moved, _ = bench.make_op("sampler", 64, 10, torch.bfloat16, cpu, "eager")
    returned = [v for v in vars(fn()).values() if torch.is_tensor(v)]
    assert logits + sum(v.numel() * v.element_size() for v in returned) == moved
    # Bandwidth and % of peak are the bytes over the measured median.
    args = argparse.Namespace(ops=["softmax"], shapes=[(64, 10)], variants=["eager"], repeats=3)
    [row] = bench.bench_kernels(args, cpu, torch.bfloat16, peak=50.0)
    assert row["bytes"] == expected["softmax"]
    assert row["gbps"] == pytest.approx(expected["softmax"] / row["seconds_median"] / 1e9)
    assert row["pct_peak"] == pytest.approx(100 * row["gbps"] / 50.0)
    # The rendered table prints the rows it is given, with the speed-up over eager computed.
    rows = [dict(what="kernel", op="loss", rows=8, vocab=100, variant="eager",
                 seconds_median=0.004, gbps=1.5, pct_peak=None, peak_total_over_input=None),
            dict(what="kernel", op="loss", rows=8, vocab=100, variant="triton",
                 seconds_median=0.001, gbps=6.0, pct_peak=12.5, peak_total_over_input=1.5)]
    meta = dict(device="X", torch="t", triton="tr", dtype="bf16", nominal_peak_gbps=48,
                copy_gbps=40)
    table = bench.render(rows, meta).splitlines()
    assert "| loss | 8 | 100 | eager | 4.000 | 1.5 |  |  | 1.00x |" in table
    assert "| loss | 8 | 100 | triton | 1.000 | 6.0 | 12.5 | 1.50 | 4.00x |" in table


def test_cpu_timings_are_printed_not_written(tmp_path):
    bench = load_benchmark()
    assert bench.benchmark_main(bench.BENCHMARK, ["--shapes", "8x10", "--variants", "eager",
                                                  "--repeats", "1", "--out", str(tmp_path),
                                                  "--docs", str(tmp_path)]) == 0
    assert not list(tmp_path.iterdir())
