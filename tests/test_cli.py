import json

import pytest

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


def test_an_unknown_option_is_named_by_its_command(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["sample", "--model", str(tmp_path), "--samples", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "usage: maskdiff sample" in err and "[--num NUM]" in err
    assert ("maskdiff sample: error: unrecognized arguments: --samples 0 (the options are listed "
            "by `maskdiff sample --help`)") in err


def test_sampler_errors_name_the_flag(tmp_path, capsys):
    from maskdiff import save_model

    from .conftest import tiny_model

    save_model(tiny_model(), tmp_path / "m")
    assert main(["sample", "--model", str(tmp_path / "m"), "--remask-share", "0"]) == 2
    assert "maskdiff: error: --remask-share must lie in (0, 1], got 0.0" in capsys.readouterr().err


def test_latent_diagnoses_a_saved_vmd_model_on_its_task(tmp_path, capsys):
    import json

    out = tmp_path / "vmd"
    assert main(["synthetic", "train", "--dataset", "d1", "--method", "vmd", "--steps", "3",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["latent", "--model", str(out), "--sequences", "40", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sequences"] == 40 and len(report["kl_per_dim"]) == 2
    assert 0 <= report["mi"] <= __import__("math").log(40) + 1e-6
    assert main(["latent", "--model", str(out), "--sequences", "40"]) == 0
    assert "active units" in capsys.readouterr().out
    plain = tmp_path / "mdm"
    main(["synthetic", "train", "--dataset", "d1", "--method", "mdm", "--steps", "2", "--out", str(plain)])
    capsys.readouterr()
    assert main(["latent", "--model", str(plain)]) == 2
    assert "need a VMD model" in capsys.readouterr().err
