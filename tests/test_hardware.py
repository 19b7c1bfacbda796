import platform

import torch

import maskdiff
from maskdiff.hardware import hardware_description, software_versions


def test_hardware_description_names_the_device():
    text = hardware_description()
    assert text.startswith("GPU " if torch.cuda.is_available() else "CPU ")
    assert "\n" not in text


def test_software_versions_list_the_stack():
    versions = software_versions()
    assert list(versions)[:2] == ["python", "torch"] and list(versions)[-1] == "maskdiff"
    assert {"transformers", "accelerate"} <= set(versions)
    assert versions["python"] == platform.python_version()
    assert versions["torch"] == torch.__version__
    assert versions["maskdiff"] == maskdiff.__version__
    assert all(isinstance(v, str) and v for v in versions.values())
