"""The Triton kernels, run by Triton's interpreter on CPU tensors, against
each layer's plain formula (``formula(x)``) in float64.

Tiles are shrunk to 128 elements (at most 8 channels or 16 positions along
the contiguous dimension) so that these small tensors are walked tile by
tile, in several chunks of positions and blocks of channels, as large ones
are on a GPU.
"""
import copy

import pytest
import torch

from mmdynact import ops
from mmdynact.models.activations import fused_activations
from mmdynact.ops import triton_support
from tests.kernel_checks import assert_grads_close, forward_backward, make

#: the layers with kernels (reference-only layers run their formula)
NAMES = list(fused_activations())


@pytest.fixture(autouse=True)
def small_tiles(monkeypatch):
    monkeypatch.setattr(triton_support, 'TILE_LIMIT',
                        triton_support.TileShape(128, 8, 16, 1))
    triton_support.clear_tiling_caches()
    yield
    triton_support.clear_tiling_caches()


@pytest.mark.parametrize(
    'shape', [triton_support.STREAM, triton_support.REDUCE],
    ids=['stream', 'reduce'])
def test_tiles_cover_every_position(shape):
    for c in (1, 3, 8, 10, 33):
        for s in (1, 7, 16, 35, 99):
            for channels_last in (False, True):
                for parallel in (None, 1, 4, 50):
                    t = triton_support.row_tiling(c, s, channels_last, shape,
                                                  parallel)
                    assert t.block_c * t.block_s <= 128
                    assert t.c_blocks * t.block_c >= c
                    assert t.chunk_size % t.block_s == 0
                    assert (t.chunks - 1) * t.chunk_size < s <= \
                        t.chunks * t.chunk_size
                columns = triton_support.column_tiling(c, s, channels_last,
                                                       shape)
                assert columns.block_c * columns.block_s <= 128
                assert (columns.s_blocks - 1) * columns.block_s < s <= \
                    columns.s_blocks * columns.block_s


def check_float64(name, shape, channels_last, training):
    layer = make(name, shape[1]).double().train(training)
    reference = copy.deepcopy(layer)
    x = torch.randn(shape, dtype=torch.float64)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    grad = torch.randn(shape, dtype=torch.float64)
    y, grads = forward_backward(layer, x, grad, 'triton')
    y_ref, grads_ref = forward_backward(reference, x, grad, None)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    assert_grads_close(grads, grads_ref, rtol=1e-9, atol=1e-11)
    assert y.is_contiguous(memory_format=torch.channels_last
                           if channels_last else torch.contiguous_format)
    assert grads[0].is_contiguous(memory_format=torch.channels_last if
                                  channels_last else torch.contiguous_format)
    for (key, value), expected in zip(layer.state_dict().items(),
                                      reference.state_dict().values()):
        torch.testing.assert_close(value, expected, msg=key)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize(
    'channels_last', [False, True], ids=['contiguous', 'channels_last'])
@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
def test_float64_matches_formula(name, channels_last, training):
    check_float64(name, (3, 10, 7, 5), channels_last, training)


@pytest.mark.parametrize('name', NAMES)
def test_batch_of_one(name):
    check_float64(name, (1, 10, 9, 11), True, True)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize(
    'dtype', [torch.float16, torch.bfloat16], ids=['fp16', 'bf16'])
def test_half_precision_input(name, dtype):
    # float32 parameters and a half-precision input, as under autocast:
    # the kernels compute in float32 and write the input's dtype
    layer = make(name, 10).eval()
    reference = copy.deepcopy(layer).double()
    x = torch.randn(2, 10, 7, 5).to(dtype)
    grad = torch.randn(2, 10, 7, 5).to(dtype)
    y, grads = forward_backward(layer, x, grad, 'triton')
    y_ref, grads_ref = forward_backward(reference, x.double(), grad.double(),
                                        None)
    assert y.dtype == grads[0].dtype == dtype
    assert all(g.dtype == torch.float32 for g in grads[1:] if g is not None)
    torch.testing.assert_close(y.double(), y_ref, rtol=2e-2, atol=2e-2)
    assert_grads_close(grads, grads_ref, rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize('name', NAMES)
def test_bfloat16_autocast(name):
    layer = make(name, 10)
    x = torch.randn(2, 10, 6, 6, requires_grad=True)
    with ops.use_backend('triton'), torch.autocast(
            'cpu', dtype=torch.bfloat16):
        y = layer(x.to(torch.bfloat16))
    assert y.dtype == torch.bfloat16
    with ops.use_backend('triton'):
        y.float().square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


@pytest.mark.parametrize('name', ['DyReLUA', 'DyReLUB'])
def test_dyrelu_sequence_input(name):
    layer = make(name, 10).double()
    x = torch.randn(3, 10, 13, dtype=torch.float64)
    grad = torch.randn(3, 10, 13, dtype=torch.float64)
    y, grads = forward_backward(layer, x, grad, 'triton')
    y_ref, grads_ref = forward_backward(layer, x, grad, None)
    torch.testing.assert_close(y, y_ref)
    assert_grads_close(grads, grads_ref)


@pytest.mark.parametrize('name', ['DyReLUB', 'FReLU', 'MetaAconC'])
def test_matches_the_torch_form(name):
    # the same passes in both forms: equal to float32 rounding
    layer = make(name, 10)
    x = torch.randn(3, 10, 7, 5).to(memory_format=torch.channels_last)
    grad = torch.randn(3, 10, 7, 5)
    y, grads = forward_backward(layer, x, grad, 'triton')
    y_torch, grads_torch = forward_backward(layer, x, grad, 'eager')
    torch.testing.assert_close(y, y_torch)
    assert_grads_close(grads, grads_torch, rtol=1e-4, atol=1e-5)
