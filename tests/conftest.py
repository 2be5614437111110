"""Test defaults: eager kernels (the other forms have their own tests),
seeded, and Triton's interpreter, so the Triton kernels run on CPU tensors
when a test asks for them (Triton reads this when kernels are defined)."""
import os

os.environ['TRITON_INTERPRET'] = '1'

# The imports follow it on purpose (hence `noqa: E402`): Triton reads
# TRITON_INTERPRET when mmdynact.ops defines the kernels.
import pytest  # noqa: E402
import torch  # noqa: E402

from mmdynact.ops import set_backend  # noqa: E402

# Shared with every test: the session fixtures that train the tiny models,
# and the reference-only layer that the tests register for a while.
pytest_plugins = ['tests.tiny_workspace', 'tests.reference_only_layer']


@pytest.fixture(autouse=True)
def _eager_and_seeded():
    set_backend('eager')
    torch.manual_seed(0)
    yield
    set_backend('eager')
