"""Test defaults: eager kernels (the fused path has its own tests), seeded."""
import pytest
import torch

from mmdynact.ops import set_backend
from tests.tiny_workspace import (  # noqa: F401 (fixtures)
    tiny_workspace, trained_classifier, trained_detector, trained_segmentor)


@pytest.fixture(autouse=True)
def _eager_and_seeded():
    set_backend('eager')
    torch.manual_seed(0)
    yield
    set_backend('eager')
