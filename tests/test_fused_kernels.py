"""The fused (torch.compile) path and the backend switch."""
import subprocess
import sys
import warnings

import pytest
import torch
from torch._dynamo.utils import counters

from mmdynact import ops
from mmdynact.models.activations import (AconC, DyReLUA, DyReLUB, DyReLUC,
                                         FReLU, MetaAconC)
from mmdynact.ops.backend import FusedKernel

LAYERS = [DyReLUA, DyReLUB, DyReLUC, FReLU, AconC, MetaAconC]


def forward_backward(layer, x):
    x = x.clone().requires_grad_()
    y = layer(x)
    y.backward(torch.ones_like(y))
    return y.detach(), x.grad, [p.grad.clone() for p in layer.parameters()]


@pytest.mark.compiled
@pytest.mark.parametrize('cls', LAYERS, ids=lambda c: c.__name__)
def test_compiled_matches_eager(cls):
    layer = cls(8)
    x = torch.randn(4, 8, 10, 12)
    results = {}
    for backend in ('eager', 'compiled'):
        layer.zero_grad()
        with ops.use_backend(backend):
            results[backend] = forward_backward(layer.eval(), x)
    y, gx, gp = results['compiled']
    y_ref, gx_ref, gp_ref = results['eager']
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-4, atol=1e-5)
    for g, g_ref in zip(gp, gp_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.compiled
def test_no_recompilation_when_sizes_change():
    layer = DyReLUB(8)
    with ops.use_backend('compiled'):
        for size in [(2, 8, 9, 7), (3, 8, 12, 5)]:  # warm up
            forward_backward(layer, torch.randn(size))
        graphs = counters['stats']['unique_graphs']
        for size in [(2, 8, 16, 16), (5, 8, 7, 13), (4, 8, 30, 3)]:
            forward_backward(layer, torch.randn(size))
        assert counters['stats']['unique_graphs'] == graphs


def test_backend_switch_and_validation():
    assert ops.get_backend() == 'eager'  # set by tests/conftest.py
    with ops.use_backend('compiled'):
        assert ops.get_backend() == 'compiled'
    assert ops.get_backend() == 'eager'
    with pytest.raises(ValueError, match="choose one of auto, compiled"):
        ops.set_backend('fast')


def test_environment_variable_is_validated():
    result = subprocess.run(
        [sys.executable, '-c', 'import mmdynact'],
        env={'MMDYNACT_BACKEND': 'gpu', 'PATH': ''},
        capture_output=True, text=True)
    assert result.returncode != 0
    assert "MMDYNACT_BACKEND='gpu' is not a mmdynact kernel backend" in \
        result.stderr


def test_auto_falls_back_to_eager_when_compilation_fails(monkeypatch):
    calls = []

    def broken_compile(fn, **kwargs):
        def run(*args):
            raise RuntimeError('no C++ compiler')
        return run

    def add(x, y):
        calls.append('eager')
        return x + y

    monkeypatch.setattr(torch, 'compile', broken_compile)
    monkeypatch.setattr(FusedKernel, '_unavailable', set())
    kernel = FusedKernel(add)
    with ops.use_backend('auto'):
        with pytest.warns(UserWarning, match='torch.compile failed on cpu'):
            assert kernel(torch.ones(1), torch.ones(1)) == 2
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # warned once only
            assert kernel(torch.ones(1), torch.ones(1)) == 2
    with ops.use_backend('compiled'):
        with pytest.raises(RuntimeError, match='no C\\+\\+ compiler'):
            kernel(torch.ones(1), torch.ones(1))
    assert calls == ['eager', 'eager']
