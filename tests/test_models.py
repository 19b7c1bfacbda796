import json

import pytest
import torch

from maskdiff import ModelConfig, SamplerConfig, generate, load_model, save_model

from .conftest import tiny_model


@pytest.mark.parametrize("field,value,match", [
    ("vocab_size", 0, "vocab_size must be a positive integer"),
    ("d_model", 30, "d_model=30 must be divisible by n_heads=4"),
    ("block_size", 3, "block_size=3 must divide seq_len=8"),
    ("latent_dim", -1, "latent_dim must be an integer >= 0"),
    ("prior", "flow", "prior must be one of"),
    ("dropout", 1.0, "dropout must lie in"),
    ("schedule", "sqrt", "ModelConfig.schedule: unknown noise schedule 'sqrt'"),
    ("schedule", None, "ModelConfig.schedule must be a schedule name"),
])
def test_config_errors_name_the_field(field, value, match):
    kwargs = dict(vocab_size=5, seq_len=8, d_model=32, n_heads=4)
    kwargs[field] = value
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)


@pytest.mark.parametrize("overrides,name", [
    (dict(block_size=1), "ar"), (dict(block_size=1, latent_dim=2), "ar"), (dict(), "mdm"),
    (dict(latent_dim=2), "vmd"), (dict(block_size=4), "bd-b4"),
    (dict(block_size=2, latent_dim=2), "block-vmd-b2")])
def test_method_name_names_the_model_kind(overrides, name):
    assert ModelConfig(vocab_size=5, seq_len=8, **overrides).method_name == name


def test_only_a_model_with_a_latent_draws_one():
    plain, vmd = tiny_model(vocab_size=5, seq_len=8), tiny_model(vocab_size=5, seq_len=8,
                                                                 block_size=4, latent_dim=3)
    layout = plain.sampling_layout(torch.full((2, 8), 5))
    assert plain.config.reads_xt_only and not vmd.config.reads_xt_only
    assert plain.latent_noise(2) is None and plain.sample_prior(layout) is None
    assert plain.sample_posterior(torch.zeros(2, 8, dtype=torch.long),
                                  torch.ones(2, 8, dtype=torch.bool)) is None
    assert vmd.latent_noise(2).shape == vmd.sample_prior(layout).shape == (2, 2, 3)
    assert not tiny_model(vocab_size=5, seq_len=8, time_conditioning=True).config.reads_xt_only


def test_block_size_defaults_to_sequence_length():
    cfg = ModelConfig(vocab_size=5, seq_len=8)
    assert cfg.block_size == 8 and cfg.num_blocks == 1 and cfg.mask_id == 5


@pytest.mark.parametrize("overrides", [dict(), dict(latent_dim=4, prior="learned", block_size=4,
                                                    time_conditioning=True)])
def test_save_load_round_trip(tmp_path, overrides):
    model = tiny_model(vocab_size=5, seq_len=8, **overrides)
    save_model(model, tmp_path / "m", extra={"note": "test"})
    loaded = load_model(tmp_path / "m")
    assert loaded.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    cfg = SamplerConfig(nfe=4, temperature=1.0)
    a = generate(model, batch_size=4, config=cfg, generator=torch.Generator().manual_seed(0))
    b = generate(loaded, batch_size=4, config=cfg, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.tokens, b.tokens)


def test_config_saved_without_a_schedule_loads_as_linear(tmp_path):
    model = tiny_model(vocab_size=5, seq_len=8)
    save_model(model, tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    payload = json.loads(path.read_text())
    del payload["model"]["schedule"]
    path.write_text(json.dumps(payload))
    assert load_model(tmp_path / "m").config.schedule == "linear"


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved maskdiff model"):
        load_model(tmp_path / "missing")
    model = tiny_model(vocab_size=5, seq_len=8)
    save_model(model, tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(tmp_path / "m")


def test_config_mismatch_detected(tmp_path):
    save_model(tiny_model(vocab_size=5, seq_len=8), tmp_path / "m")
    cfg_path = tmp_path / "m" / "config.json"
    payload = json.loads(cfg_path.read_text())
    payload["model"]["d_model"] = 32
    cfg_path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="does not match its config"):
        load_model(tmp_path / "m")


def test_vmd_model_requires_latent():
    model = tiny_model(vocab_size=5, seq_len=8, latent_dim=4)
    layout = model.sampling_layout(torch.full((1, 8), 5))
    with pytest.raises(ValueError, match="needs a latent z"):
        model.logits(layout)


def test_untrained_learned_prior_is_standard_normal():
    model = tiny_model(vocab_size=5, seq_len=8, latent_dim=4, prior="learned")
    p = model.prior(model.sampling_layout(torch.full((3, 8), 5)))
    assert torch.equal(p.mean, torch.zeros(3, 1, 4)) and torch.equal(p.logvar, torch.zeros(3, 1, 4))


def _grid_groups():
    rows = [i // 9 for i in range(81)]
    cols = [i % 9 for i in range(81)]
    boxes = [3 * (i // 27) + (i % 9) // 3 for i in range(81)]
    return [rows, cols, boxes]


def test_group_attention_sees_exactly_the_peers():
    model = tiny_model(vocab_size=9, seq_len=81, position_groups=_grid_groups(), group_attention=True)
    mask = model.training_layout(torch.zeros(1, 81, dtype=torch.long),
                                 torch.zeros(1, 81, dtype=torch.long)).attn_mask
    assert mask.shape == (81, 81) and bool(mask.diagonal().all())
    assert (mask.sum(-1) == 21).all()  # 20 peers + itself
    # a change at a non-peer cell cannot change a cell's prediction in a one-layer model
    x = torch.full((2, 81), 9)
    x[1, 80] = 3  # cell (9, 9) is not a peer of cell (1, 1)
    logits = model.logits(model.training_layout(x, x))
    assert torch.allclose(logits[0, 0], logits[1, 0], atol=1e-6)
    assert not torch.allclose(logits[0, 8], logits[1, 8], atol=1e-6)  # (1, 9) is a peer of (9, 9)


def test_position_groups_are_validated_and_saved(tmp_path):
    with pytest.raises(ValueError, match="position_groups must be"):
        ModelConfig(vocab_size=9, seq_len=81, position_groups=[[0] * 80])
    with pytest.raises(ValueError, match="group_attention needs position_groups"):
        ModelConfig(vocab_size=9, seq_len=81, group_attention=True)
    model = tiny_model(vocab_size=9, seq_len=81, position_groups=_grid_groups(), group_attention=True)
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.config == model.config
    x = torch.full((1, 81), 9)
    assert torch.equal(model.logits(model.training_layout(x, x)),
                       loaded.logits(loaded.training_layout(x, x)))


def test_a_looped_trunk_reuses_its_blocks():
    """n_loops applies the same blocks again: same parameters, and exactly the plain trunk's
    blocks run twice."""
    from maskdiff import MaskedDiffusionModel

    base = dict(vocab_size=5, seq_len=8, d_model=16, n_layers=2, n_heads=2)
    torch.manual_seed(0)
    plain = MaskedDiffusionModel(ModelConfig(**base)).eval()
    looped = MaskedDiffusionModel(ModelConfig(**base, n_loops=2)).eval()
    looped.load_state_dict(plain.state_dict())
    assert looped.num_parameters() == plain.num_parameters()
    x = torch.randint(0, 6, (3, 8), generator=torch.Generator().manual_seed(1))
    layout = plain.sampling_layout(x)
    trunk = plain.trunk
    h = trunk.tok_emb(layout.tokens) + trunk.pos_emb(layout.positions)
    for block in [*trunk.blocks, *trunk.blocks]:
        h = block(h, layout.attn_mask)
    with torch.no_grad():
        once = trunk(layout.tokens, layout.positions, layout.attn_mask)
        twice = looped.trunk(layout.tokens, layout.positions, layout.attn_mask)
        assert torch.allclose(twice, trunk.norm(h), atol=1e-5)
        assert not torch.allclose(once, twice)
    with pytest.raises(ValueError, match="n_loops must be a positive integer"):
        ModelConfig(**base, n_loops=0)


def test_overwritten_weights_are_refused(tmp_path):
    """Bytes overwritten in the middle of the weights file still parse as safetensors; the
    sha256 recorded at save time catches them."""
    save_model(tiny_model(vocab_size=5, seq_len=8), tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 16] = bytes(16)
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="m: the weights file model.safetensors is damaged or "
                                         "was changed after saving"):
        load_model(tmp_path / "m")


def test_a_model_saved_without_a_checksum_still_loads(tmp_path):
    model = tiny_model(vocab_size=5, seq_len=8)
    save_model(model, tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    payload = json.loads(path.read_text())
    assert len(payload.pop("weights_sha256")) == 64
    path.write_text(json.dumps(payload))  # the form models had before the checksum
    assert load_model(tmp_path / "m").config == model.config


@pytest.mark.parametrize("edit,message", [
    (lambda model: model.pop("vocab_size"), r"model is missing required settings \['vocab_size'\]"),
    (lambda model: model.update(seq_len="8"), "model.seq_len must be a whole number, got the string '8'"),
])
def test_bad_model_fields_in_config_json_are_named(tmp_path, edit, message):
    save_model(tiny_model(vocab_size=5, seq_len=8), tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    payload = json.loads(path.read_text())
    edit(payload["model"])
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="config.json: " + message):
        load_model(tmp_path / "m")


def test_a_null_model_in_config_json_is_named(tmp_path, capsys):
    from maskdiff.cli import main

    save_model(tiny_model(vocab_size=5, seq_len=8), tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "model": None}))
    assert main(["sample", "--model", str(tmp_path / "m")]) == 2
    assert f"{path}: model must be a mapping of settings, got null" in capsys.readouterr().err
