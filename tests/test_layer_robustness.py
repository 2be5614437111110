"""Inputs at the edges: empty batches, dtypes that are not floating point,
mixed input and parameter dtypes, infinities and large logits."""
import copy

import pytest
import torch

from mmdynact import ops
from mmdynact.models.activations import ACTIVATIONS, DyReLUC
from tests.kernel_checks import make

NAMES = list(ACTIVATIONS)
FORMS = ['eager', 'compiled', 'triton']


@pytest.mark.parametrize('form', FORMS)
@pytest.mark.parametrize('name', NAMES)
def test_empty_batch(name, form):
    # mmdet's RoI heads hand over N = 0 when an image has no proposals
    layer = make(name, 6).train()
    x = torch.randn(0, 6, 5, 4, requires_grad=True)
    with ops.use_backend(form):
        y = layer(x)
        y.sum().backward()
    assert y.shape == x.shape and x.grad.shape == x.shape
    for param in layer.parameters():
        assert param.grad is None or not param.grad.any()


def test_empty_batch_does_not_break_the_compiled_form(monkeypatch):
    from mmdynact.ops import backend
    monkeypatch.setattr(backend, '_broken', {})
    with ops.use_backend('auto'):
        make('DyReLUB', 6)(torch.randn(0, 6, 5, 4))
    assert backend._broken == {}


@pytest.mark.parametrize(
    'dtype',
    [torch.int64, torch.int32, torch.uint8, torch.bool, torch.complex64])
@pytest.mark.parametrize('name', NAMES)
def test_non_floating_input_is_refused(name, dtype):
    layer = make(name, 6)
    x = torch.ones(2, 6, 5, 4).to(dtype)
    with pytest.raises(
            TypeError, match=f'{name} expects a floating-point input'):
        layer(x)


@pytest.mark.parametrize('form', ['eager', 'triton'])
@pytest.mark.parametrize(
    'dtypes', [(torch.float64, torch.float32),
               (torch.float16, torch.bfloat16)],
    ids=['fp64-into-fp32', 'fp16-into-bf16'])
@pytest.mark.parametrize('name', NAMES)
def test_input_dtype_other_than_the_parameters(name, dtypes, form):
    x_dtype, layer_dtype = dtypes
    layer = make(name, 6).to(layer_dtype).train()
    x = torch.randn(2, 6, 5, 4).to(x_dtype).requires_grad_()
    with ops.use_backend(form):
        y = layer(x)
        y.float().sum().backward()
    assert y.dtype == x_dtype and x.grad.dtype == x_dtype
    reference = copy.deepcopy(layer).double()
    tolerance = 1e-5 if x_dtype == torch.float64 else 5e-2
    torch.testing.assert_close(
        y.double(),
        reference.formula(x.detach().double()),
        rtol=tolerance,
        atol=tolerance)


@pytest.mark.parametrize('form', FORMS)
@pytest.mark.parametrize('name', ['AconA', 'DyReLUC', 'AconC', 'FReLU'])
@pytest.mark.parametrize('value', [float('inf'), float('-inf')])
def test_infinities_agree_with_the_formula(name, form, value):
    layer = make(name, 6).double().eval()
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    x[0, 1, 2, 3] = value
    with ops.use_backend(form), torch.no_grad():
        y = layer(x)
        expected = layer.formula(x)
    torch.testing.assert_close(y, expected, equal_nan=True)


@pytest.mark.parametrize('form', FORMS)
@pytest.mark.parametrize('scale', [4e6, 1e10])
def test_spatial_softmax_keeps_precision_for_large_logits(form, scale):
    layer = DyReLUC(6).eval()
    with torch.no_grad():
        layer.spatial_norm.running_var.fill_(1.0)
        layer.spatial_conv.weight.fill_(scale)
        layer.spatial_conv.bias.zero_()
    reference = copy.deepcopy(layer).double()
    for x in (torch.randn(2, 6, 5, 4), torch.ones(2, 6, 5, 4)):
        with ops.use_backend(form), torch.no_grad():
            y = layer(x)
            expected = reference.formula(x.double())
        torch.testing.assert_close(y.double(), expected, rtol=1e-4, atol=1e-5)


def test_funnel_tie_goes_to_one_branch():
    # where the funnel condition equals x, exactly one branch gets the
    # gradient (here x's: t > x decides, in forward and backward alike)
    layer = make('FReLU', 1).double().eval()
    with torch.no_grad():
        layer.funnel_conv.weight.zero_()
        layer.funnel_conv.weight[0, 0, 1, 1] = 1.0  # t = x exactly
        layer.funnel_norm.running_var.fill_(1.0 - layer.funnel_norm.eps)
    for form in ('eager', 'triton'):
        x = torch.randn(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
        with ops.use_backend(form):
            layer(x).sum().backward()
        torch.testing.assert_close(x.grad, torch.ones_like(x))
