import os

# Triton kernels must see the interpreter flag before any @triton.jit function is defined.
os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from maskdiff import MaskedDiffusionModel, ModelConfig  # noqa: E402

# torch already follows OMP_NUM_THREADS; without it, at most two threads.
if "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(min(2, os.cpu_count() or 1))


def tiny_model(seed: int = 0, scale: float = 1.0, **overrides) -> MaskedDiffusionModel:
    """A small random model; `scale` > 1 sharpens its (otherwise near-uniform) predictions."""
    torch.manual_seed(seed)
    kwargs = dict(vocab_size=3, seq_len=3, d_model=16, n_layers=1, n_heads=2)
    kwargs.update(overrides)
    model = MaskedDiffusionModel(ModelConfig(**kwargs))
    with torch.no_grad():
        model.head.weight.mul_(scale)
        model.head.bias.normal_(0, 0.3 * scale)
    return model.eval()


@pytest.fixture
def make_model():
    return tiny_model
