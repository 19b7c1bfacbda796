import json

from maskdiff.cli import main


def test_unknown_dataset_is_a_clear_error(capsys):
    assert main(["synthetic", "--datasets", "d3"]) == 2
    assert "unknown synthetic dataset 'd3'" in capsys.readouterr().err


def test_train_eval_sample_round_trip(tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["synthetic", "train", "--dataset", "two-uniform", "--method", "vmd",
                 "--steps", "20", "--out", str(out)]) == 0
    assert (out / "model.safetensors").is_file() and (out / "run" / "checkpoint").is_dir()
    capsys.readouterr()
    assert main(["synthetic", "eval", "--model", str(out), "--dataset", "two-uniform",
                 "--nfe", "1", "--samples", "200"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["nfe"] == 1 and 0.0 <= row["accuracy"] <= 1.0 and row["num_samples"] == 200
    assert main(["sample", "--model", str(out), "--num", "3", "--nfe", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(len(line.split()) == 2 for line in lines)


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["sample", "--model", str(tmp_path / "nope")]) == 2
    assert "no saved maskdiff model" in capsys.readouterr().err


def test_eval_rejects_mismatched_dataset(tmp_path, capsys):
    out = tmp_path / "m"
    main(["synthetic", "train", "--dataset", "two-uniform", "--method", "mdm", "--steps", "5",
          "--out", str(out)])
    capsys.readouterr()
    assert main(["synthetic", "eval", "--model", str(out), "--dataset", "d1", "--nfe", "1"]) == 2
    assert "sequence length" in capsys.readouterr().err
