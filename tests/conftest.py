"""Test defaults: eager kernels (the other forms have their own tests),
seeded, and Triton's interpreter, so the Triton kernels run on CPU tensors
when a test asks for them.

Triton decides between its interpreter and compiled kernels when the
kernels are defined (when ``mmdynact.ops`` is imported), once per process.
A run of only the ``cuda`` tests (``pytest -m cuda``) compiles them for the
GPU; every other run interprets them (see :func:`pytest_configure`). An
explicit ``TRITON_INTERPRET`` in the environment wins.
"""
import os

import pytest
import torch
from _pytest.mark.expression import Expression

# The session fixtures that train the tiny models, shared with every test.
# (No plugin may import mmdynact before pytest_configure has run; the one
# that does, the reference-only layer's, is loaded there.)
pytest_plugins = ['tests.tiny_workspace']


def runs_unmarked_tests(markexpr: str) -> bool:
    """Whether ``-m markexpr`` selects tests that carry no marker (the CPU
    tests, which need Triton's interpreter)."""
    return not markexpr or Expression.compile(markexpr).evaluate(
        lambda name, **kwargs: False)


def pytest_configure(config):
    # runs before any test module (hence mmdynact.ops) is imported
    interpret = runs_unmarked_tests(config.getoption('markexpr'))
    os.environ.setdefault('TRITON_INTERPRET', '1' if interpret else '0')
    # the reference-only layer that the tests register for a while
    config.pluginmanager.import_plugin('tests.reference_only_layer')


@pytest.fixture(autouse=True)
def _eager_and_seeded():
    from mmdynact.ops import set_backend
    set_backend('eager')
    torch.manual_seed(0)
    yield
    set_backend('eager')
