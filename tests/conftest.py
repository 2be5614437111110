"""Test defaults: eager kernels (the other forms have their own tests),
seeded, and Triton's interpreter, so the Triton kernels run on CPU tensors
when a test asks for them (Triton reads this when kernels are defined)."""
import os

os.environ['TRITON_INTERPRET'] = '1'

import pytest  # noqa: E402
import torch  # noqa: E402

from mmdynact.ops import set_backend  # noqa: E402
from tests.tiny_workspace import (  # noqa: E402,F401 (fixtures)
    tiny_workspace, trained_classifier, trained_detector, trained_segmentor)


@pytest.fixture(autouse=True)
def _eager_and_seeded():
    set_backend('eager')
    torch.manual_seed(0)
    yield
    set_backend('eager')
