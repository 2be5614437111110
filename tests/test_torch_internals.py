"""The private torch behaviours of the compiled form
(:mod:`mmdynact.ops.torch_internals`): if a torch release changes them,
these fail loudly instead of the compiled form recompiling silently."""
import pytest
import torch
import torch.fx.experimental._config as fx_config
from packaging.version import Version

from mmdynact.ops import torch_internals
from mmdynact.ops.backend import sigmoid_by_exp2


def test_the_verified_versions_cover_this_torch():
    first, last = torch_internals.VERIFIED_TORCH
    release = Version(torch.__version__.split('+')[0]).release[:2]
    assert Version(first).release <= release <= Version(last).release, (
        f'torch {torch.__version__} is outside the versions the compiled '
        f'form was verified on ({first} to {last}): check the two '
        f'behaviours of mmdynact/ops/torch_internals.py and widen '
        f'VERIFIED_TORCH')


def test_duck_shaping_can_be_switched_off():
    assert hasattr(fx_config, 'use_duck_shape')
    with fx_config.patch(use_duck_shape=False):
        assert fx_config.use_duck_shape is False


@pytest.mark.compiled
def test_each_copy_has_a_dynamo_cache_of_its_own():
    # two copies of one function, each compiled once for a variant: neither
    # recompiles when the other runs, and equal sizes (batch == K) stay
    # independent symbols
    torch._dynamo.reset()

    def scale(x, factor: float):
        return x * factor

    with torch._dynamo.config.patch(
            recompile_limit=1, fail_on_recompile_limit_hit=True):
        first = torch_internals.compiled_copy(scale, 'scale_first')
        second = torch_internals.compiled_copy(scale, 'scale_second')
        for _ in range(2):
            first(torch.ones(3, 3), 2.0)
            second(torch.ones(2, 4, dtype=torch.float64), 2.0)
        torch.testing.assert_close(
            first(torch.ones(5, 7), 2.0), torch.full((5, 7), 2.0))
        torch.testing.assert_close(
            second(torch.ones(6, 2, dtype=torch.float64), 2.0),
            torch.full((6, 2), 2.0, dtype=torch.float64))
    torch._dynamo.reset()


def _scaled_sigmoid(x, scale):
    return x * torch.sigmoid(scale * x)


@pytest.mark.compiled
def test_a_standalone_compile_serves_any_sizes_and_asserts_equal_ones():
    scale = torch.rand(1, 3, 1, 1)
    fused = torch_internals.standalone_compiled(_scaled_sigmoid,
                                                torch.randn(4, 3, 5, 5), scale)
    for shape in [(4, 3, 5, 5), (2, 3, 7, 9), (6, 3, 2, 11)]:
        x = torch.randn(shape)
        torch.testing.assert_close(fused(x, scale), _scaled_sigmoid(x, scale))
    with pytest.raises(AssertionError):  # the trace equated the channels
        fused(torch.randn(2, 4, 5, 5), scale)


def test_a_standalone_compile_refuses_a_trace_that_assumes_sizes():

    def doubled_if_long(x):
        return x * 2 if x.shape[0] > 3 else x

    with pytest.raises(
            RuntimeError,
            match='doubled_if_long: its trace '
            'assumes .* of the sizes'):
        torch_internals.standalone_compiled(doubled_if_long, torch.randn(5, 2))


@pytest.mark.compiled
def test_a_standalone_compile_applies_the_decompositions_given():
    # the decomposition replaces the op while tracing, once (what
    # InferenceKernel relies on for its exp2 sigmoid), and the compiled
    # call computes what the function does
    traced = []

    def as_exp2(z):
        traced.append(z.shape)
        return sigmoid_by_exp2(z)

    scale = torch.rand(1, 3, 1, 1)
    fused = torch_internals.standalone_compiled(
        _scaled_sigmoid,
        torch.randn(4, 3, 5, 5),
        scale,
        decompositions={torch.ops.aten.sigmoid.default: as_exp2})
    assert len(traced) == 1
    x = torch.randn(2, 3, 7, 9)
    torch.testing.assert_close(fused(x, scale), _scaled_sigmoid(x, scale))
