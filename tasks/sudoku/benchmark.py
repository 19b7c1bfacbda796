"""Sudoku benchmark: whole-board accuracy against NFE, per decoding order, decoding protocol
(fixed count per call, adaptive, remasking, peer constraint) and difficulty bucket, plus the
calibration of committed cells.

    python benchmarks/sudoku.py          (or: maskdiff sudoku bench --out DIR)

Every row solves the first `per_bucket` puzzles of a committed test set (all 1,000 by default) with
one model, one order and one NFE budget; a board counts only if it equals the recorded (unique)
solution. Best-of-K rows (VMD models, top-prob-margin) keep the first of K trajectories that
satisfies every constraint. Throughput is measured separately at NFE 20, with the time spent inside
denoiser calls split out.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from maskdiff.calibration import expected_calibration_error, plot_reliability, reliability
from maskdiff.models import read_config
from maskdiff.results import Benchmark

from .generate import RATINGS
from .model import SHIPPED, SHIPPED_DIR, load_sudoku_model
from .solve import BEST_OF_SCORE_NOISE, solve_puzzles
from .testsets import load_test_set

__all__ = ["BUCKETS", "PUBLISHED", "load_buckets", "accuracy_rows", "measure_throughput",
           "summary_table", "markdown_report", "plot_accuracy", "model_fingerprint",
           "BENCHMARK"]

DATA_DIR = Path(__file__).parent / "data"
BUCKETS = tuple(RATINGS)

# Published whole-board accuracies (each system's label names its source). "strategy" = puzzles
# solvable by human strategies (Kim et al. 2025 filtering of the Kaggle 3M set); "hard" = the rest
# (needs search).
PUBLISHED = [
    {"system": "VMD paper, VMD", "order": "top-prob-margin", "split": "strategy",
     "accuracy": {5: 0.969, 10: 0.990, 20: 0.997}},
    {"system": "VMD paper, VMD", "order": "top-prob", "split": "strategy",
     "accuracy": {5: 0.677, 10: 0.764, 20: 0.809}},
    {"system": "VMD paper, MDM", "order": "top-prob-margin", "split": "strategy",
     "accuracy": {5: 0.362, 10: 0.784, 20: 0.911}},
    {"system": "VMD paper, MDM", "order": "top-prob", "split": "strategy",
     "accuracy": {5: 0.106, 10: 0.147, 20: 0.204}},
    {"system": "Kim et al. 2025, MDM 6M", "order": "top-prob-margin", "split": "strategy",
     "accuracy": {50: 0.8949}},
    {"system": "Kim et al. 2025, MDM 6M", "order": "top-prob", "split": "strategy",
     "accuracy": {50: 0.1851}},
    {"system": "Kim et al. 2025, MDM 6M", "order": "random", "split": "strategy",
     "accuracy": {50: 0.0688}},
    {"system": "Kim et al. 2025, MDM 6M", "order": "top-prob-margin", "split": "hard",
     "accuracy": {50: 0.4988}},
]


def load_buckets(per_bucket: int | None = None) -> dict[str, list]:
    """The committed test sets: bucket -> [(puzzle, solution)], the first `per_bucket` of each."""
    if per_bucket is not None and per_bucket < 1:
        raise ValueError(f"per_bucket must be >= 1, got {per_bucket}")
    return {b: load_test_set(DATA_DIR / f"{b}.csv")[:per_bucket] for b in BUCKETS}


def _method(model) -> str:
    return model.config.method_name.upper()


def model_fingerprint(model) -> str:
    """A short hash of the weights: cached rows are reused only for the very same model."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def puzzles_digest(pairs) -> str:
    """A short hash of a bucket's puzzles, in order: rows are reused and paired only on the very
    same puzzles."""
    h = hashlib.sha256()
    for puzzle, _ in pairs:
        h.update(bytes(puzzle))
    return h.hexdigest()[:12]


def _read_cache(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["key"]: row for row in rows}


# Decoding protocols beyond the fixed count per call (the published protocol), each reported as
# its own rows at top-prob-margin: name -> solve_puzzles options.
DECODINGS = {
    "adaptive": {"threshold": 0.9},
    "adaptive+remask": {"threshold": 0.9, "remask": "confidence", "remask_share": 0.1},
    "adaptive+constraint": {"threshold": 0.9, "constrained": True},
}


def accuracy_rows(models: dict[str, object], buckets: dict[str, list], nfes, orders,
                  best_of=(), seed: int = 0, progress: bool = True,
                  cache: str | Path | None = None, best_of_nfes=None, decodings=(),
                  decoding_nfes=None) -> list[dict]:
    """One row per (model, order, nfe, bucket[, best_of][, decoding]): accuracy = share of boards
    equal to the recorded solution; nfe_used = mean denoiser calls per puzzle. Best-of-K rows are
    added for VMD models at top-prob-margin, and rows for each named decoding (DECODINGS) at
    top-prob-margin. With `cache` (a JSONL file), finished rows are appended as they come and
    reused by later runs with the same weights, puzzles and settings, so a long benchmark can stop
    and resume."""
    cache = Path(cache) if cache is not None else None
    cached = _read_cache(cache)
    prints = {name: model_fingerprint(m) for name, m in models.items()}
    jobs = [(name, order, nfe, 1, "fixed") for name in models for order in orders for nfe in nfes]
    jobs += [(name, "top-prob-margin", nfe, k, "fixed") for name, m in models.items()
             if m.config.is_vmd for k in best_of if k > 1
             for nfe in (nfes if best_of_nfes is None else best_of_nfes)]
    jobs += [(name, "top-prob-margin", nfe, 1, d) for name in models for d in decodings
             for nfe in (nfes if decoding_nfes is None else decoding_nfes)]
    rows = []
    bar = tqdm(total=len(jobs) * len(buckets), desc="sudoku bench", disable=not progress)
    digests = {bucket: puzzles_digest(pairs) for bucket, pairs in buckets.items()}
    for name, order, nfe, k, decoding in jobs:
        model = models[name]
        options = DECODINGS.get(decoding, {})
        noise = BEST_OF_SCORE_NOISE if k > 1 else 0.0
        for bucket, pairs in buckets.items():
            key = f"{prints[name]}|{order}|{nfe}|{k}|{noise}|{bucket}|{digests[bucket]}|{seed}"
            key += "" if decoding == "fixed" else f"|{decoding}:{sorted(options.items())}"
            if key in cached:
                row = {f: v for f, v in cached[key].items() if f != "key"}
                rows.append({**row, "model": name})
                bar.update(1)
                continue
            t0 = time.perf_counter()
            result = solve_puzzles(model, [p for p, _ in pairs], nfe=nfe, order=order, best_of=k,
                                   generator=torch.Generator().manual_seed(seed), **options)
            solved = [tuple(b) == tuple(s) for b, (_, s) in zip(result.boards, pairs)]
            rows.append({"method": _method(model), "model": name, "order": order, "nfe": nfe,
                         "best_of": k, "decoding": decoding, "bucket": bucket,
                         "accuracy": sum(solved) / len(pairs),
                         # per puzzle, in test-set order, and which puzzles: what paired
                         # comparisons need
                         "solved": "".join("1" if ok else "0" for ok in solved),
                         "puzzles": digests[bucket],
                         "valid": sum(result.valid) / len(pairs), "n": len(pairs),
                         "nfe_used": sum(result.nfe) / len(pairs),
                         "seconds": round(time.perf_counter() - t0, 2)})
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                with cache.open("a") as f:
                    f.write(json.dumps({**rows[-1], "key": key}) + "\n")
            bar.update(1)
            bar.set_postfix(model=name, order=order, nfe=nfe, k=k, decoding=decoding,
                            acc=f"{rows[-1]['accuracy']:.3f}")
    bar.close()
    return rows


def measure_throughput(model, puzzles, nfe: int = 20, batch_size: int = 256, seed: int = 0) -> dict:
    """Batched solving speed and the share of wall time spent outside denoiser calls."""
    solve_puzzles(model, puzzles[:8], nfe=nfe, batch_size=batch_size)  # warm-up
    result = solve_puzzles(model, puzzles, nfe=nfe, batch_size=batch_size,
                           generator=torch.Generator().manual_seed(seed))
    wall = result.seconds
    return {"method": _method(model), "nfe": nfe, "batch_size": batch_size, "puzzles": len(puzzles),
            "seconds": round(wall, 3), "puzzles_per_second": round(len(puzzles) / wall, 2),
            "outside_denoiser_share": round(1 - result.denoiser_seconds / wall, 4),
            "threads": torch.get_num_threads()}


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _strategy_rows(rows, key) -> list[dict]:
    """The rows of (model, order, nfe, best_of) on singles + strategies (the published
    'strategy-solvable' split)."""
    return [r for r in rows if (r["model"], r["order"], r["nfe"], r["best_of"]) == key
            and r["bucket"] in ("singles", "strategies")]


def _strategy_counts(rows, key) -> tuple[int, int]:
    """(boards right, puzzles) on singles + strategies for (model, order, nfe, best_of)."""
    picked = _strategy_rows(rows, key)
    return sum(round(r["accuracy"] * r["n"]) for r in picked), sum(r["n"] for r in picked)


def _strategy_accuracy(rows, key) -> float | None:
    """Accuracy on singles + strategies together for (model, order, nfe, best_of)."""
    right, n = _strategy_counts(rows, key)
    return right / n if n else None


def _paired_outcomes(rows, first, second) -> tuple[list[bool], list[bool]] | None:
    """Per-puzzle outcomes of two configurations on singles + strategies, puzzle for puzzle, or
    None unless both have one row per bucket with outcomes on the same puzzles."""
    sides = []
    for key in (first, second):
        picked = _strategy_rows(rows, key)
        by_bucket = {r["bucket"]: r for r in picked}
        if len(by_bucket) != len(picked):
            return None  # two rows of one bucket: which puzzles is ambiguous
        sides.append(by_bucket)
    a, b = sides
    if not a or set(a) != set(b):
        return None
    for bucket in a:
        ra, rb = a[bucket], b[bucket]
        if not ra.get("puzzles") or ra.get("puzzles") != rb.get("puzzles"):
            return None  # recorded without outcomes, or on other puzzles
        if len({ra["n"], rb["n"], len(ra.get("solved", "")), len(rb.get("solved", ""))}) != 1:
            return None  # a damaged row: outcomes and puzzle counts disagree
    return tuple([c == "1" for bucket in sorted(a) for c in side[bucket]["solved"]]
                 for side in (a, b))


def latent_gap(rows: list[dict], order: str = "top-prob-margin",
               training: dict | None = None) -> str:
    """VMD minus MDM on the strategy-solvable puzzles at each NFE, with a 95% interval: Newcombe's
    paired interval from the per-puzzle outcomes (both models decode the same puzzles), or, for
    rows recorded without them, his interval for independent samples (conservative here). With
    the models' training records, says whether they saw the same number of training samples (the
    comparison the published gap makes) or not."""
    from maskdiff.stats import paired_share_difference, share_difference

    rows = [r for r in rows if _is_fixed(r)]  # the protocol rows: adaptive decodings differ
    by_method = {}
    for r in rows:
        if r["order"] == order and r["best_of"] == 1:
            by_method.setdefault(r["method"], r["model"])
    if not {"MDM", "VMD"} <= set(by_method):
        return ""
    lines = [f"### VMD against MDM ({order}, strategy-solvable)", "",
             "| NFE | MDM | VMD | VMD - MDM, points [95% interval] | interval |",
             "|---|---|---|---|---|"]
    for nfe in sorted({r["nfe"] for r in rows if r["order"] == order}):
        keys = {m: (by_method[m], order, nfe, 1) for m in ("VMD", "MDM")}
        (k1, n1), (k2, n2) = (_strategy_counts(rows, keys[m]) for m in ("VMD", "MDM"))
        if not (n1 and n2):
            continue
        paired = _paired_outcomes(rows, keys["VMD"], keys["MDM"])
        if paired is not None:
            (diff, low, high), kind = paired_share_difference(*paired), "paired (same puzzles)"
        else:
            (diff, low, high), kind = share_difference(k1, n1, k2, n2), "independent (conservative)"
        lines.append(f"| {nfe} | {_pct(k2 / n2)} | {_pct(k1 / n1)} | {100 * diff:+.1f} "
                     f"[{100 * low:+.1f}, {100 * high:+.1f}] | {kind} |")
    records = {m: (training or {}).get(by_method[m]) for m in ("MDM", "VMD")}
    if all(records.values()):
        mdm, vmd = (records[m]["samples_seen"] for m in ("MDM", "VMD"))
        lines += ["", f"Equal training compute: both models saw {mdm:,} training samples." if mdm == vmd
                  else f"Not at equal training compute: MDM saw {mdm:,} training samples, VMD "
                       f"{vmd:,}; the difference mixes the latent with the budget."]
    return "\n".join(lines) + "\n"


def _row_keys(rows) -> list[tuple]:
    """(model, method, order, best_of) of every configuration, best-of rows last."""
    return sorted({(r["model"], r["method"], r["order"], r["best_of"]) for r in rows},
                  key=lambda k: (k[3], k[2], k[1]))


def summary_table(rows: list[dict]) -> str:
    """One line per model/order/best-of: strategy-solvable and guessing accuracy at each NFE."""
    nfes = sorted({r["nfe"] for r in rows})
    guess = {(r["model"], r["order"], r["best_of"], r["nfe"]): r["accuracy"]
             for r in rows if r["bucket"] == "guessing"}
    lines = ["| model | order | " + " | ".join(f"strategy-solvable NFE {n}" for n in nfes) + " | "
             + " | ".join(f"guessing NFE {n}" for n in nfes) + " |",
             "|---|---|" + "---|" * (2 * len(nfes))]
    for model, method, order, k in _row_keys(rows):
        label = method + (f" best-of-{k}" if k > 1 else "")
        strat = [_pct(_strategy_accuracy(rows, (model, order, n, k))) for n in nfes]
        hard = [_pct(guess.get((model, order, k, n))) for n in nfes]
        lines.append(f"| {label} | {order} | " + " | ".join(strat + hard) + " |")
    return "\n".join(lines)


def markdown_report(rows: list[dict], throughput: list[dict] | None = None) -> str:
    """A summary (strategy-solvable / guessing), accuracies per bucket and NFE, then ours beside
    the published numbers."""
    nfes = sorted({r["nfe"] for r in rows})
    keys = _row_keys(rows)
    n_by_bucket = {r["bucket"]: r["n"] for r in rows}
    lines = ["### Summary: whole-board accuracy (%), strategy-solvable = singles + strategies", "",
             summary_table(rows), "",
             "### Whole-board accuracy (%) on the committed test sets",
             "", "n per bucket: " + ", ".join(f"{b} {n}" for b, n in n_by_bucket.items()), "",
             "| model | order | best-of | bucket | " + " | ".join(f"NFE {n}" for n in nfes) + " |",
             "|---|---|---|---|" + "---|" * len(nfes)]
    lookup = {(r["model"], r["order"], r["best_of"], r["bucket"], r["nfe"]): r["accuracy"]
              for r in rows}
    for model, method, order, k in keys:
        for bucket in n_by_bucket:
            cells = [_pct(lookup.get((model, order, k, bucket, n))) for n in nfes]
            lines.append(f"| {method} ({model}) | {order} | {k} | {bucket} | " + " | ".join(cells) + " |")

    lines += ["", "### Beside the published numbers (%)", "",
              "Ours: singles + strategies together (strategy-solvable) and guessing. Published: "
              "strategy-solvable and hard (needs search) splits of the Kaggle 3M set.", "",
              "| NFE | order | system | strategy-solvable | guessing / hard |", "|---|---|---|---|---|"]
    for nfe in nfes:
        for order in ("random", "top-prob", "top-prob-margin"):
            for model, method, o, k in keys:
                if o != order:
                    continue
                guess = lookup.get((model, order, k, "guessing", nfe))
                label = f"maskdiff {method} ({model})" + (f", best-of-{k}" if k > 1 else "")
                lines.append(f"| {nfe} | {order} | {label} | "
                             f"{_pct(_strategy_accuracy(rows, (model, order, nfe, k)))} | {_pct(guess)} |")
            for pub in PUBLISHED:
                if pub["order"] == order and nfe in pub["accuracy"]:
                    acc = _pct(pub["accuracy"][nfe])
                    strat, hard = (acc, "-") if pub["split"] == "strategy" else ("-", acc)
                    lines.append(f"| {nfe} | {order} | {pub['system']} | {strat} | {hard} |")
    if throughput:
        lines += ["", "### Solve throughput (batched, this CPU)", "",
                  "| model | NFE | batch | puzzles/s | share of wall time outside denoiser calls | threads |",
                  "|---|---|---|---|---|---|"]
        for t in throughput:
            lines.append(f"| {t['method']} | {t['nfe']} | {t['batch_size']} | "
                         f"{t['puzzles_per_second']:.1f} | {100 * t['outside_denoiser_share']:.1f}% | "
                         f"{t['threads']} |")
    return "\n".join(lines) + "\n"


def _is_fixed(row: dict) -> bool:
    return row.get("decoding", "fixed") == "fixed"


def _strategy_mean(rows: list[dict], field: str) -> float | None:
    """`field` averaged over singles + strategies, weighted by puzzles."""
    picked = [r for r in rows if r["bucket"] in ("singles", "strategies")]
    n = sum(r["n"] for r in picked)
    return sum(r[field] * r["n"] for r in picked) / n if n else None


def decoding_points(rows: list[dict]) -> list[dict]:
    """Per (model, decoding, nfe budget) at top-prob-margin, best-of 1: strategy-solvable and
    guessing accuracy against the mean NFE actually used."""
    points = {}
    for r in rows:
        if r["order"] == "top-prob-margin" and r["best_of"] == 1:
            key = (r["model"], r["method"], r.get("decoding", "fixed"), r["nfe"])
            points.setdefault(key, []).append(r)
    out = []
    rank = {name: i for i, name in enumerate(["fixed", *DECODINGS])}
    for (model, method, decoding, nfe), group in sorted(
            points.items(), key=lambda kv: (kv[0][0], rank.get(kv[0][2], len(rank)), kv[0][3])):
        used = [dict(r, nfe_used=r.get("nfe_used", r["nfe"])) for r in group]
        guess = next((r for r in used if r["bucket"] == "guessing"), None)
        out.append({"model": model, "method": method, "decoding": decoding, "nfe": nfe,
                    "strategy_accuracy": _strategy_mean(used, "accuracy"),
                    "strategy_nfe_used": _strategy_mean(used, "nfe_used"),
                    "guessing_accuracy": guess and guess["accuracy"],
                    "guessing_nfe_used": guess and guess["nfe_used"]})
    return out


def saving_ratios(points: list[dict], reference_nfe: int = 20) -> list[dict]:
    """Per model and adaptive decoding: the fewest mean calls with which it reaches the
    strategy-solvable accuracy of the fixed schedule at `reference_nfe`, over that NFE."""
    out = []
    for model in sorted({p["model"] for p in points}):
        mine = [p for p in points if p["model"] == model and p["strategy_accuracy"] is not None]
        ref = next((p for p in mine if p["decoding"] == "fixed" and p["nfe"] == reference_nfe), None)
        if ref is None:
            continue
        for decoding in sorted({p["decoding"] for p in mine} - {"fixed"}):
            reach = [p["strategy_nfe_used"] for p in mine if p["decoding"] == decoding
                     and p["strategy_accuracy"] >= ref["strategy_accuracy"]]
            out.append({"model": model, "decoding": decoding, "reference_nfe": reference_nfe,
                        "reference_accuracy": ref["strategy_accuracy"],
                        "nfe_used": min(reach) if reach else None,
                        "ratio": min(reach) / reference_nfe if reach else None})
    return out


def decoding_report(rows: list[dict]) -> str:
    """The adaptive decodings beside the fixed schedule: accuracy against the calls used."""
    points = decoding_points(rows)
    if not any(p["decoding"] != "fixed" for p in points):
        return ""
    lines = ["### Decoding protocols: accuracy against the NFE actually used", "",
             "Top-prob-margin, argmax, best-of 1. `fixed`: the published protocol (the same count "
             "per call). `adaptive`: every cell at least " + f"{DECODINGS['adaptive']['threshold']}"
             " likely is committed too, on top of the fixed count so far, so the budget holds and "
             "rows finish early. `+remask`: " + f"{DECODINGS['adaptive+remask']['remask_share']:.0%}"
             " of the committed cells go back to [MASK] before each call but the last (lowest "
             "commit-time confidence), which costs calls. `+constraint`: digits "
             "already among a cell's peers are forbidden, a rule the network is not credited "
             "with: its own protocol, never mixed with the others.", "",
             "| model | decoding | NFE budget | strategy-solvable | mean NFE used | guessing | "
             "mean NFE used |", "|---|---|---|---|---|---|---|"]
    for p in points:
        guess_used = "-" if p["guessing_nfe_used"] is None else f"{p['guessing_nfe_used']:.2f}"
        lines.append(f"| {p['method']} ({p['model']}) | {p['decoding']} | {p['nfe']} | "
                     f"{_pct(p['strategy_accuracy'])} | {p['strategy_nfe_used']:.2f} | "
                     f"{_pct(p['guessing_accuracy'])} | {guess_used} |")
    ratios = saving_ratios(points)
    if ratios:
        lines += ["", "The saving: the fewest mean calls with which each decoding reaches the fixed "
                  "schedule's strategy-solvable accuracy at NFE 20, as a share of 20 (goal: at "
                  "most 0.5).", "", "| model | decoding | fixed at NFE 20 | NFE used | ratio |",
                  "|---|---|---|---|---|"]
        for r in ratios:
            used = "not reached" if r["nfe_used"] is None else f"{r['nfe_used']:.2f}"
            ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
            lines.append(f"| {r['model']} | {r['decoding']} | {_pct(r['reference_accuracy'])} | "
                         f"{used} | {ratio} |")
    return "\n".join(lines) + "\n"


def plot_decodings(rows: list[dict], path: str | Path) -> None:
    """Strategy-solvable accuracy against the mean NFE used, one line per model and decoding."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = decoding_points(rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    for model, method, decoding in sorted({(p["model"], p["method"], p["decoding"]) for p in points}):
        pts = sorted((p["strategy_nfe_used"], 100 * p["strategy_accuracy"]) for p in points
                     if (p["model"], p["decoding"]) == (model, decoding))
        ax.plot([x for x, _ in pts], [y for _, y in pts], "--" if decoding == "fixed" else "-",
                marker="o", label=f"{method} {decoding}")
    ax.set_xscale("log")
    ticks = sorted({p["nfe"] for p in points})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("mean NFE used per puzzle")
    ax.set_ylabel("strategy-solvable accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_accuracy(rows: list[dict], path: str | Path) -> None:
    """Accuracy against NFE, one panel per bucket, one line per model/order/best-of."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buckets = list(dict.fromkeys(r["bucket"] for r in rows))
    fig, axes = plt.subplots(1, len(buckets), figsize=(5 * len(buckets), 4), sharey=True,
                             squeeze=False)
    keys = sorted({(r["method"], r["model"], r["order"], r["best_of"]) for r in rows})
    styles = {"random": ":", "top-prob": "--", "top-prob-margin": "-"}
    for ax, bucket in zip(axes[0], buckets):
        for method, model, order, k in keys:
            pts = sorted((r["nfe"], r["accuracy"]) for r in rows if r["bucket"] == bucket and
                         (r["method"], r["model"], r["order"], r["best_of"]) == (method, model, order, k))
            label = f"{method} {order}" + (f" best-of-{k}" if k > 1 else "")
            ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], styles.get(order, "-"),
                    marker="o" if method == "VMD" else "s", label=label,
                    linewidth=2.5 if k > 1 else 1.5)
        ax.set_xscale("log")
        nfes = sorted({r["nfe"] for r in rows})
        ax.set_xticks(nfes, [str(n) for n in nfes])
        ax.set_title(f"{bucket} (n={next(r['n'] for r in rows if r['bucket'] == bucket)})")
        ax.set_xlabel("NFE (denoiser calls)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("whole-board accuracy (%)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _curves(training: dict) -> dict[str, list[dict]]:
    return {name: rec["validation_curve"] for name, rec in (training or {}).items()
            if rec and rec.get("validation_curve")}


def _curve_nfes(curves) -> list[int]:
    """The NFEs a set of validation curves were evaluated at (their "solvable@N" keys)."""
    return sorted({int(k.split("@")[1]) for curve in curves for point in curve for k in point
                   if k.startswith("solvable@")})


def training_curves_table(training: dict) -> str:
    """The validation evaluations each model's training run recorded (strategy-solvable share of
    the run's validation puzzles at each NFE), against training samples seen."""
    curves = _curves(training)
    if not curves:
        return ""
    nfes = _curve_nfes(curves.values())
    lines = ["| model | step | samples seen | " + " | ".join(f"NFE {n}" for n in nfes) + " |",
             "|---|---|---|" + "---|" * len(nfes)]
    for name, curve in curves.items():
        for p in curve:
            lines.append(f"| {name} | {p['step']:,} | {p['samples']:,} | "
                         + " | ".join(_pct(p.get(f"solvable@{n}")) for n in nfes) + " |")
    return "\n".join(lines)


def plot_training_curves(training: dict, path: str | Path) -> None:
    """Validation strategy-solvable share against samples seen, one line per model and NFE."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, curve in _curves(training).items():
        for n in _curve_nfes([curve]):
            pts = [(p["samples"], p[f"solvable@{n}"]) for p in curve if f"solvable@{n}" in p]
            ax.plot([x for x, _ in pts], [100 * y for _, y in pts], marker=".",
                    linestyle="-" if name == "mdm" else "--", label=f"{name} NFE {n}")
    ax.set_xlabel("training samples seen")
    ax.set_ylabel("validation strategy-solvable solved (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _training_record(name: str) -> dict | None:
    folder = SHIPPED_DIR / name if name in SHIPPED else Path(name)
    return read_config(folder)[1].get("training")


def add_arguments(parser) -> None:
    from maskdiff.sampling import ORDERS

    parser.add_argument("--models", nargs="+", default=["mdm", "vmd"],
                        help="'mdm', 'vmd' or model folders (default: both shipped models)")
    parser.add_argument("--nfe", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--orders", nargs="+", choices=ORDERS,
                        default=["random", "top-prob", "top-prob-margin"])
    parser.add_argument("--best-of", type=int, nargs="+", default=[4],
                        help="best-of-K rows for VMD models at top-prob-margin (default 4)")
    parser.add_argument("--best-of-nfe", type=int, nargs="+", default=None,
                        help="NFE values of the best-of-K rows (default: those of --nfe)")
    parser.add_argument("--per-bucket", type=int, default=None,
                        help="first N puzzles of each bucket (default: all 1,000)")
    parser.add_argument("--decodings", nargs="*", choices=DECODINGS, default=list(DECODINGS),
                        help="decoding protocols beyond the fixed schedule, each its own rows at "
                             "top-prob-margin (default: all)")
    parser.add_argument("--decoding-nfe", type=int, nargs="+", default=None,
                        help="NFE budgets of those rows (default: those of --nfe)")
    parser.add_argument("--calibration-nfe", type=int, default=20,
                        help="NFE of the reliability diagram of committed cells (default 20)")
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> tuple[list[dict], dict]:
    """Accuracy rows (finished rows cached in <out>/sudoku_rows.jsonl, so a stopped run resumes)
    and throughput at NFE 20 on 513 puzzles drawn equally from the three buckets."""
    from maskdiff.commandline import require_positive

    require_positive(nfe=args.nfe, best_of=args.best_of, best_of_nfe=args.best_of_nfe,
                     per_bucket=args.per_bucket, decoding_nfe=args.decoding_nfe,
                     calibration_nfe=args.calibration_nfe)
    models = {name: load_sudoku_model(name) for name in args.models}
    buckets = load_buckets(args.per_bucket)
    cache = args.out / "sudoku_rows.jsonl" if getattr(args, "out", None) is not None else None
    rows = accuracy_rows(models, buckets, args.nfe, args.orders, args.best_of, seed=args.seed,
                         cache=cache, best_of_nfes=args.best_of_nfe, decodings=args.decodings,
                         decoding_nfes=args.decoding_nfe)
    share = -(-512 // len(buckets))  # the same number of puzzles from every bucket
    pool = [p for pairs in buckets.values() for p, _ in pairs[:share]]
    throughput = [measure_throughput(m, pool) for m in models.values()]
    meta = {"threads": torch.get_num_threads(),
            # solving time of every row, including rows taken from the cache of earlier runs
            "row_seconds_total": round(sum(r["seconds"] for r in rows), 1),
            "throughput": throughput,
            "calibration": {name: calibration(m, buckets, args.calibration_nfe, args.seed)
                            for name, m in models.items()},
            "training": {name: _training_record(name) for name in models}}
    return rows, meta


def calibration(model, buckets: dict[str, list], nfe: int, seed: int = 0) -> dict:
    """Reliability of the committed cells (fixed schedule, top-prob-margin, argmax) on the
    strategy-solvable puzzles: confidence at commit time against being the solution's digit."""
    pairs = [p for b in ("singles", "strategies") for p in buckets.get(b, [])]
    result = solve_puzzles(model, [p for p, _ in pairs], nfe=nfe,
                           generator=torch.Generator().manual_seed(seed))
    confidence = torch.stack(result.confidence)  # (N, 81), NaN at givens
    correct = torch.tensor(result.boards) == torch.tensor([s for _, s in pairs])
    table = reliability(confidence, correct)
    return {"nfe": nfe, "puzzles": len(pairs), "bins": table,
            "ece": expected_calibration_error(table)}


def headline(rows: list[dict], meta: dict) -> str:
    """Strategy-solvable and guessing accuracy per model and order (the summary table)."""
    return summary_table([r for r in rows if _is_fixed(r)])


def render(rows: list[dict], meta: dict) -> str:
    decodings = decoding_report(rows)
    calibrated = _calibration_report(meta)
    rows = [r for r in rows if _is_fixed(r)]
    n = {r["bucket"]: r["n"] for r in rows}
    training = meta.get("training") or {}
    lines = [
        "Whole-board accuracy on the committed test sets (`tasks/sudoku/data/{singles,strategies,"
        "guessing}.csv`, 1,000 unique-solution puzzles each, rated by what a solver needs). A "
        "board counts only if it equals the recorded solution. \"strategy-solvable\" is singles "
        "and strategies together, the split the published numbers use. Puzzles per bucket: "
        + ", ".join(f"{b} {k}" for b, k in n.items()) + ".", "",
        markdown_report(rows, meta.get("throughput")).rstrip(), "",
        "![accuracy against NFE](../../benchmarks/results/sudoku.png)", ""]
    gap = latent_gap(rows, training=training)
    if gap:
        lines += [gap]
    if decodings:
        lines += [decodings, "![accuracy against NFE used](../../benchmarks/results/sudoku_decodings.png)",
                  ""]
    if calibrated:
        lines += [calibrated, "![reliability of committed cells](../../benchmarks/results/"
                  "sudoku_calibration.png)", ""]
    if training:
        lines += ["### Training cost of the models", "",
                  "| model | parameters | hardware | steps x batch | samples seen | wall time |",
                  "|---|---|---|---|---|---|"]
        for name, rec in training.items():
            if rec:
                batch = rec["train_config"]["batch_size"]
                lines.append(f"| {name} | {rec['num_parameters'] / 1e6:.2f}M | {rec['hardware']} | "
                             f"{rec['steps']:,} x {batch} | {rec['samples_seen']:,} | "
                             f"{rec['wall_seconds'] / 60:.1f} min |")
        lines.append("")
    curves = training_curves_table(training)
    if curves:
        lines += ["### Learning curves of these models", "",
                  "Each training run evaluates its model on validation puzzles held out from its "
                  "training data (top-prob-margin, strategy-solvable share, the run's own "
                  "validation set) and the saved model carries the curve.", "", curves, "",
                  "![learning curves of these models](../../benchmarks/results/sudoku_training.png)",
                  ""]
    lines += [
        "### Training recipes and learning curves", "",
        "Which training states, loss weighting and trunk the pool recipes use was chosen at equal "
        "compute, with learning curves of the old (complete grids) and new (puzzle states) "
        "recipes: [sudoku_recipes.md](sudoku_recipes.md) (`python benchmarks/sudoku_recipes.py`).",
        "", "![learning curves](../../benchmarks/results/sudoku_recipes.png)", "",
        "### Reading the numbers", "",
        "- The published models (GPU-trained, 300 epochs over about 1.8M puzzles, 6M parameters) "
        "saw some three orders of magnitude more samples than the models above; the gap to them "
        "is first a gap in training compute (the models' training cost is in the table above).",
        "- Best-of-K decodes K trajectories per puzzle in one batch (different latents, score "
        f"noise {BEST_OF_SCORE_NOISE}) and keeps one that satisfies every constraint; its cost is "
        "K x NFE.",
        "- Throughput is batched solving (batch 256) at NFE 20; the share of wall time outside "
        "denoiser calls is ranking, sampling and bookkeeping.",
    ]
    return "\n".join(lines)


def _calibration_report(meta: dict) -> str:
    tables = meta.get("calibration")
    if not tables:
        return ""
    lines = ["### Calibration of committed cells", "",
             "Each decoded cell's probability when it was committed (fixed schedule, "
             "top-prob-margin, argmax) against whether it is the solution's digit, on the "
             "strategy-solvable puzzles. ECE: the count-weighted gap between confidence and "
             "accuracy.", "",
             "| model | NFE | puzzles | ECE | cells committed at >= 0.9 | their accuracy |",
             "|---|---|---|---|---|---|"]
    for name, c in tables.items():
        high = [b for b in c["bins"] if b["lo"] >= 0.9 and b["count"]]
        count = sum(b["count"] for b in high)
        acc = sum(b["accuracy"] * b["count"] for b in high) / count if count else None
        total = sum(b["count"] for b in c["bins"])
        lines.append(f"| {name} | {c['nfe']} | {c['puzzles']} | {c['ece']:.3f} | "
                     f"{100 * count / total:.1f}% | {_pct(acc)} |")
    return "\n".join(lines) + "\n"


def figures(rows: list[dict], meta: dict, folder: Path) -> list[Path]:
    paths = [Path(folder) / "sudoku.png"]
    plot_accuracy([r for r in rows if _is_fixed(r)], paths[0])
    if any(not _is_fixed(r) for r in rows):
        paths.append(Path(folder) / "sudoku_decodings.png")
        plot_decodings(rows, paths[-1])
    if _curves(meta.get("training")):
        paths.append(Path(folder) / "sudoku_training.png")
        plot_training_curves(meta["training"], paths[-1])
    if meta.get("calibration"):
        paths.append(plot_reliability({name: c["bins"] for name, c in meta["calibration"].items()},
                                      Path(folder) / "sudoku_calibration.png",
                                      title="Sudoku, committed cells"))
    return paths


BENCHMARK = Benchmark(name="sudoku", title="Sudoku results", add_arguments=add_arguments,
                      run=run, render=render, headline=headline, figures=figures,
                      description="Sudoku: whole-board accuracy against NFE for MDM and VMD "
                                  "models on the committed test sets")
