"""MASKDIFF_KERNELS dispatch, and the engine running on the Triton kernels (CPU interpreter)."""

import pytest
import torch

from maskdiff import SamplerConfig, diffusion_loss, generate, get_schedule, kernels
from maskdiff.kernels import backend_for

from .conftest import tiny_model
from .kernel_cases import DEVICE, to_device


def test_auto_uses_the_reference_for_cpu_and_float64(monkeypatch):
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    assert kernels.requested_backend() == "auto"
    assert backend_for(torch.zeros(2, 3)) == "reference"
    assert backend_for(torch.zeros(2, 3, dtype=torch.float64)) == "reference"


def test_forced_choices(monkeypatch):
    monkeypatch.setenv(kernels.ENV_VAR, "reference")
    assert backend_for(torch.zeros(2, 3)) == "reference"
    monkeypatch.setenv(kernels.ENV_VAR, "Triton")  # case-insensitive
    # on the CPU the tests define the kernels under TRITON_INTERPRET=1, so CPU tensors can run them
    assert backend_for(to_device(torch.zeros(2, 3))) == "triton"


def test_forced_triton_without_the_interpreter_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(kernels.ENV_VAR, "triton")
    monkeypatch.setattr(kernels.dispatch, "INTERPRETED", False)  # as without TRITON_INTERPRET=1
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        backend_for(torch.zeros(2, 3))


def test_unknown_backend_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(kernels.ENV_VAR, "cuda")
    with pytest.raises(ValueError, match="MASKDIFF_KERNELS='cuda' is not a kernel backend"):
        kernels.gumbel_sample(torch.zeros(2, 3), 2)


def spy(monkeypatch, name):
    """Count calls of maskdiff.kernels.<name> (so a test knows the fused path really ran)."""
    calls = []
    original = getattr(kernels, name)
    monkeypatch.setattr(kernels, name, lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def _loss_and_grads(model, x0, backend, monkeypatch):
    monkeypatch.setenv(kernels.ENV_VAR, backend)
    model.zero_grad()
    out = diffusion_loss(model, x0, get_schedule("linear"),
                         generator=torch.Generator(DEVICE).manual_seed(4))
    out.loss.backward()
    return out, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("overrides", [dict(), dict(block_size=4, latent_dim=3)],
                         ids=["mdm", "block-vmd"])
def test_training_loss_and_gradients_match_on_the_triton_path(overrides, monkeypatch):
    model = tiny_model(vocab_size=9, seq_len=8, d_model=32, n_heads=2, n_layers=2, **overrides)
    model.to(DEVICE).train()
    x0 = torch.randint(0, 9, (16, 8), generator=torch.Generator().manual_seed(1)).to(DEVICE)
    ref, ref_grads = _loss_and_grads(model, x0, "reference", monkeypatch)
    calls = spy(monkeypatch, "elbo_cross_entropy_triton")
    fused, fused_grads = _loss_and_grads(model, x0, "triton", monkeypatch)
    assert calls, "the fused loss did not run"
    assert float(fused.loss.detach()) == pytest.approx(float(ref.loss.detach()), rel=1e-5)
    assert float(fused.bound) == pytest.approx(float(ref.bound), rel=1e-5)
    assert ref_grads.keys() == fused_grads.keys()
    for name, g in ref_grads.items():
        err = float((fused_grads[name] - g).abs().max())
        assert err <= 1e-5 * (1 + float(g.abs().max())), f"{name}: gradient differs by {err:.3g}"


def test_sampling_on_the_triton_path(monkeypatch):
    model = tiny_model(vocab_size=9, seq_len=12, d_model=32, n_heads=2, n_layers=2, block_size=4,
                       scale=3.0).to(DEVICE)
    runs = {}
    calls = spy(monkeypatch, "gumbel_sample_triton")
    for backend in ("reference", "triton"):
        monkeypatch.setenv(kernels.ENV_VAR, backend)
        greedy = generate(model, batch_size=8, config=SamplerConfig(nfe=6))
        cfg = SamplerConfig(nfe=6, temperature=1.0)
        drawn = [generate(model, batch_size=8, config=cfg,
                          generator=torch.Generator(DEVICE).manual_seed(3)) for _ in range(2)]
        assert torch.equal(drawn[0].tokens, drawn[1].tokens), f"{backend}: same seed, new tokens"
        assert drawn[0].nfe == 6 and not bool((drawn[0].tokens == model.mask_id).any())
        runs[backend] = greedy.tokens
    assert len(calls) == 3 * 6, "every denoiser step of the triton runs uses the fused sampler"
    # greedy decoding with top-prob-margin ordering is deterministic: both paths agree
    assert torch.equal(runs["triton"], runs["reference"])


@pytest.mark.skipif(DEVICE.type != "cuda", reason="needs MASKDIFF_TEST_DEVICE=cuda and a GPU")
def test_auto_uses_triton_on_cuda(monkeypatch):
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        assert backend_for(torch.zeros(2, 3, dtype=dtype, device=DEVICE)) == "triton"
