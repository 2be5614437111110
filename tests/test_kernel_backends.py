"""Backend choice, fallbacks, robustness of the compiled form, autograd
corner cases and whole-model compilation."""
import copy
import subprocess
import sys
import warnings

import pytest
import torch
from mmcv.cnn import build_activation_layer
from torch import nn

from mmdynact import ops
from mmdynact.models.activations import fused_activations, staged
from mmdynact.ops import backend, triton_support
from mmdynact.ops.backend import TorchKernel
from tests.kernel_checks import (assert_grads_close, check_backward_twice,
                                 forward_backward)

#: the layers with kernels (reference-only layers run their formula)
NAMES = list(fused_activations())


def make(name, channels=6):
    return build_activation_layer(dict(type=name, channels=channels))


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code],
                          env={
                              'PATH': '',
                              **env
                          },
                          capture_output=True,
                          text=True)


def test_backend_switch_and_validation():
    assert ops.get_backend() == 'eager'  # set by tests/conftest.py
    with ops.use_backend('triton'):
        assert ops.get_backend() == 'triton'
        with ops.use_backend('compiled'):
            assert ops.get_backend() == 'compiled'
        assert ops.get_backend() == 'triton'
    assert ops.get_backend() == 'eager'
    with pytest.raises(
            ValueError, match='choose one of auto, triton, '
            'compiled, eager'):
        ops.set_backend('fast')


def test_environment_variable_is_validated():
    result = run_python('import mmdynact', MMDYNACT_BACKEND='gpu')
    assert result.returncode != 0
    assert "MMDYNACT_BACKEND='gpu' is not a mmdynact kernel backend" in \
        result.stderr


def test_auto_picks_triton_on_cuda_and_compiled_elsewhere(monkeypatch):
    monkeypatch.setattr(backend, '_broken', {})
    monkeypatch.setattr(backend, '_forms', {})
    cuda = torch.device('cuda', 0)
    probes = []

    def works(device):
        probes.append(device)
        return None

    with ops.use_backend('auto'):
        assert ops.kernel_form(torch.device('cpu')) == 'compiled'
        monkeypatch.setattr(triton_support, 'unusable_reason', works)
        assert ops.kernel_form(cuda) == 'triton'
        assert ops.kernel_form(cuda) == 'triton'
        assert probes == [cuda]  # decided once per device
        monkeypatch.setattr(triton_support, 'unusable_reason',
                            lambda device: 'no compiler for sm_50')
        backend.forget_forms()
        with pytest.warns(
                UserWarning,
                match='Triton kernels do not work on '
                'cuda \\(no compiler for sm_50\\)'):
            assert ops.kernel_form(cuda) == 'compiled'
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # warned once only
            backend.forget_forms()
            assert ops.kernel_form(cuda) == 'compiled'
        assert backend._broken == {('triton', 'cuda'): 'no compiler for sm_50'}
    for name in ('eager', 'compiled'):
        with ops.use_backend(name):
            assert ops.kernel_form(cuda) == name


def test_triton_backend_explains_what_it_needs():
    code = ('import torch, mmdynact; from mmdynact import ops; '
            'ops.set_backend("triton"); '
            'mmdynact.models.DyReLUB(4)(torch.randn(2, 4, 3, 3))')
    result = run_python(code)  # no TRITON_INTERPRET: CPU tensors refused
    assert result.returncode != 0
    assert ('mmdynact backend "triton": Triton kernels run on CUDA tensors, '
            'and on CPU tensors only under its interpreter') in result.stderr


def test_works_without_triton():
    # CPU-only torch builds ship without Triton
    code = ('import sys; sys.modules["triton"] = None\n'
            'import torch, mmdynact\n'
            'from mmdynact import ops\n'
            'x = torch.randn(2, 4, 5, 5, requires_grad=True)\n'
            'for name in ("eager", "auto"):\n'
            '    ops.set_backend(name)\n'
            '    mmdynact.models.FReLU(4)(x).sum().backward()\n'
            'ops.set_backend("triton")\n'
            'mmdynact.models.AconC(4)(x)\n')
    result = run_python(code, MMDYNACT_BACKEND='eager')
    assert result.returncode != 0
    assert 'Triton is not installed' in result.stderr, result.stderr
    assert 'Traceback' in result.stderr and 'AconC' in result.stderr


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
    monkeypatch.setattr(backend, '_broken', {})
    kernel = TorchKernel(add)
    with ops.use_backend('auto'):
        with pytest.warns(
                UserWarning,
                match='compiled kernels do not work on'
                ' cpu \\(RuntimeError: no C\\+\\+ compiler\\)'):
            assert kernel('compiled', torch.ones(1), torch.ones(1)) == 2
        assert ops.kernel_form(torch.device('cpu')) == 'eager'
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # warned once only
            assert kernel('compiled', torch.ones(1), torch.ones(1)) == 2
    with ops.use_backend('compiled'):
        with pytest.raises(RuntimeError, match='no C\\+\\+ compiler'):
            kernel('compiled', torch.ones(1), torch.ones(1))
    assert calls == ['eager', 'eager']


def test_auto_raises_the_inputs_own_errors(monkeypatch):
    # an error the eager form raises too is the caller's: raised as it is,
    # and the compiled form stays in use
    monkeypatch.setattr(backend, '_broken', {})

    def add(x, y):
        return x + y

    kernel = TorchKernel(add)
    with ops.use_backend('auto'), warnings.catch_warnings():
        warnings.simplefilter('error')
        with pytest.raises(RuntimeError, match='size of tensor a'):
            kernel('compiled', torch.ones(2), torch.ones(3))
    assert backend._broken == {}


@pytest.fixture
def strict_dynamo():
    """Dynamo that raises instead of silently running a function eagerly
    once it has been compiled for more than one variant."""
    torch._dynamo.reset()
    with torch._dynamo.config.patch(
            recompile_limit=1, fail_on_recompile_limit_hit=True):
        yield
    torch._dynamo.reset()


@pytest.mark.compiled
def test_each_variant_compiles_once_in_its_own_cache(strict_dynamo):

    def scaled_sum(x, scale: float):
        return (x * scale).sum(1)

    kernel = TorchKernel(scaled_sum)
    inputs = [
        torch.randn(3, 4, 5),
        torch.randn(3, 4, 5, dtype=torch.float64),
        torch.randn(3, 4, 5).to(torch.bfloat16),
        torch.randn(1, 4, 5),
        torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last),
        torch.randn(3, 4, 5).requires_grad_()  # runs detached: as float32
    ]
    for x in inputs:
        torch.testing.assert_close(kernel('compiled', x, 2.0), 2 * x.sum(1))
    variants = len(kernel.variants)
    for x in inputs:  # new sizes and the same variants: no new compilation
        bigger = torch.randn([size + 3 if size > 1 else 1
                              for size in x.shape]).to(x.dtype)
        if x.dim() == 4:
            bigger = bigger.to(memory_format=torch.channels_last)
        kernel('compiled', bigger.requires_grad_(x.requires_grad), 2.0)
    assert len(kernel.variants) == variants == len(inputs) - 1


@pytest.mark.compiled
def test_mixed_use_process_keeps_the_fused_kernels(strict_dynamo):
    # float64 gradients, float32 training and evaluation, bf16 autocast,
    # channels-last and new sizes in one process: every variant is compiled
    # once (dynamo would raise here instead of falling back to eager)
    layer = make('DyReLUB', 8)
    uses = [
        (torch.float64, False, (2, 8, 5, 5)),
        (torch.float32, True, (3, 8, 6, 6)),
        (torch.float32, False, (2, 8, 9, 7)),
        (torch.float32, False, (4, 8, 12, 5)),
    ]
    with ops.use_backend('compiled'):
        for dtype, channels_last, shape in uses:
            layer.to(dtype)
            x = torch.randn(shape, dtype=dtype, requires_grad=True)
            if channels_last:
                x = x.to(memory_format=torch.channels_last)
            y = layer(x)
            y.square().sum().backward()
            torch.testing.assert_close(y, layer.formula(x))
            with torch.no_grad():
                torch.testing.assert_close(layer.eval()(x), y)
            layer.train()
        with torch.autocast('cpu', dtype=torch.bfloat16):
            y = layer(torch.randn(2, 8, 7, 7, dtype=torch.bfloat16))
        assert y.dtype == torch.bfloat16


@pytest.mark.parametrize('form', ['eager', 'triton'])
@pytest.mark.parametrize('name', NAMES)
def test_backward_twice_with_retained_graph(name, form):
    check_backward_twice(name, torch.device('cpu'), (2, 6, 5, 4),
                         torch.float64, form)


@pytest.mark.parametrize('name', NAMES)
def test_double_backward_error_names_the_layer(name):
    layer = make(name)
    x = torch.randn(2, 6, 5, 4, requires_grad=True)
    y = layer(x).square().sum()
    with pytest.raises(
            RuntimeError,
            match=f'{name}: .*differentiable once.*create_graph='
            f'True.*layer.formula\\(x\\)'):
        torch.autograd.grad(y, x, create_graph=True)


def small_model(names, channels=6):
    layers = []
    for name in names:
        layers += [
            nn.Conv2d(channels, channels, 3, padding=1),
            make(name, channels)
        ]
    return nn.Sequential(*layers).double()


def compare_compiled(model, compiler_backend, x):
    eager_model = copy.deepcopy(model)
    compiled = torch.compile(model, fullgraph=True, backend=compiler_backend)
    y = compiled(x)
    y_eager = eager_model(x)
    torch.testing.assert_close(y, y_eager)
    y.square().sum().backward()
    y_eager.square().sum().backward()
    for (key, p), p_eager in zip(model.named_parameters(),
                                 eager_model.parameters()):
        torch.testing.assert_close(p.grad, p_eager.grad, msg=key)
    for (key, b), b_eager in zip(model.state_dict().items(),
                                 eager_model.state_dict().values()):
        torch.testing.assert_close(b, b_eager, msg=key)


@pytest.mark.parametrize('name', NAMES)
def test_whole_model_compiles_without_graph_breaks(name):
    # custom ops with fake implementations: dynamo and AOTAutograd trace the
    # model in one graph (fullgraph=True raises on a graph break)
    torch._dynamo.reset()
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    compare_compiled(small_model([name]), 'aot_eager', x)


@pytest.mark.compiled
def test_whole_model_compiles_with_inductor():
    torch._dynamo.reset()
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    compare_compiled(
        small_model(['DyReLUC', 'FReLU', 'MetaAconC']), 'inductor', x)


@pytest.mark.parametrize('form', ['eager', 'triton'])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
def test_inference_runs_without_autograd(name, form, training):
    # under no_grad / inference_mode the passes run without an autograd
    # node; training mode still updates the running statistics as the
    # formula does
    layer = make(name).double().train(training)
    reference = copy.deepcopy(layer)
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    for context in (torch.no_grad, torch.inference_mode):
        with ops.use_backend(form), context():
            y = layer(x)
            expected = reference.formula(x)
        assert y.grad_fn is None
        torch.testing.assert_close(y, expected)
    for (key, value), other in zip(layer.state_dict().items(),
                                   reference.state_dict().values()):
        torch.testing.assert_close(value, other, msg=key)


@pytest.mark.parametrize('form', ['eager', 'triton'])
@pytest.mark.parametrize('name', NAMES)
def test_staged_path_matches_the_formula(name, form):
    # the path torch.compile and FLOP counting take: modules for the small
    # networks, the family's custom op for the element-wise core
    layer = make(name).double().train()
    reference = copy.deepcopy(layer)
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    grad = torch.randn_like(x)
    with staged():
        y, grads = forward_backward(layer, x, grad, form)
    y_ref, grads_ref = forward_backward(reference, x, grad, None)
    torch.testing.assert_close(y, y_ref)
    assert_grads_close(grads, grads_ref)


@pytest.mark.parametrize('form', ['eager', 'compiled', 'triton'])
@pytest.mark.parametrize('present', ['beta', 'p2', 'p1', 'p1 p2'])
@pytest.mark.parametrize(
    'per_sample', [False, True], ids=['beta_c', 'beta_nc'])
def test_acon_node_takes_any_parameters(form, present, per_sample):
    # the node's sums hold the slots of the parameters present (beta, then
    # p2, then p1), whichever are: p1 without p2 included
    from mmdynact.models.activations.acon import acon_formula
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 4, 6, dtype=torch.float64, generator=gen)
    grad = torch.randn(x.shape, dtype=torch.float64, generator=gen)

    def param(rows=1):
        return torch.randn(
            rows, 5, 1, 1, dtype=torch.float64,
            generator=gen).requires_grad_()

    p1 = param() if 'p1' in present else None
    p2 = param() if 'p2' in present else None
    beta = param(3 if per_sample else 1)
    leaves = [t for t in (x, p1, p2, beta) if t is not None]
    x.requires_grad_()
    with ops.use_backend(form):
        y = ops.acon(x, ops.Acon(p1, p2, beta))
    grads = torch.autograd.grad(y, leaves, grad)
    expected = acon_formula(x, 1 if p1 is None else p1,
                            0 if p2 is None else p2, beta)
    torch.testing.assert_close(y, expected)
    for got, want in zip(grads, torch.autograd.grad(expected, leaves, grad)):
        torch.testing.assert_close(got, want)


def test_the_fused_kernels_sigmoid_is_the_sigmoid():
    # FUSED_DECOMPOSITIONS write sigmoid with exp2: within fp32 rounding
    # and the |z| 6e-8 relative error of z log2(e) of float64's sigmoid
    # (below fp32's smallest normal number in absolute terms, where results
    # are subnormal), the limits and NaN kept, sigmoid_ in place
    z = torch.cat([
        torch.linspace(-110, 110, 22001),
        torch.tensor([0., -0., 1e-30, -1e-30, 88.7, -88.7, 103.9, -103.9])
    ])
    want = torch.sigmoid(z.double())
    got = backend.sigmoid_by_exp2(z).double()
    bound = (
        want * (2.4e-7 + z.abs().double() * 8e-8) +
        torch.finfo(torch.float32).tiny)
    assert ((got - want).abs() <= bound).all()
    limits = backend.sigmoid_by_exp2(
        torch.tensor([float('inf'), -float('inf'),
                      float('nan')]))
    assert limits[0] == 1 and limits[1] == 0 and limits[2].isnan()
    t = z.clone()
    in_place = backend.FUSED_DECOMPOSITIONS[torch.ops.aten.sigmoid_.default]
    assert in_place(t) is t
    torch.testing.assert_close(t, backend.sigmoid_by_exp2(z))


ACON_NAMES = ['AconA', 'AconB', 'AconC', 'MetaAconC']


@pytest.mark.compiled
@pytest.mark.parametrize('name', ACON_NAMES)
def test_acon_inference_compiles_one_fused_kernel_per_layout(
        name, monkeypatch):
    # in the compiled form on a CPU, ACON without autograd runs one fused
    # kernel for inputs of 2**15 elements or more, compiled once for all
    # sizes; smaller inputs run as written
    from mmdynact.ops.acon import _inference
    monkeypatch.setattr(_inference, 'variants', {})
    layer = make(name, 8).eval()
    with ops.use_backend('compiled'), torch.inference_mode():
        for shape in [(4, 8, 32, 32), (3, 8, 41, 37), (2, 8, 5, 5),
                      (2, 8, 256, 260)]:
            for layout in (torch.contiguous_format, torch.channels_last):
                x = torch.randn(shape).to(memory_format=layout)
                y = layer(x)
                torch.testing.assert_close(y, layer.formula(x))
                assert y.is_contiguous(memory_format=layout)
    assert len(_inference.variants) == 2


def test_acon_inference_runs_as_written_when_fusing_fails(monkeypatch):

    def broken_compile(fn, *args, decompositions):
        raise RuntimeError('no C++ compiler')

    from mmdynact.ops.acon import _inference
    monkeypatch.setattr(_inference, 'variants', {})  # none compiled yet
    monkeypatch.setattr(backend, 'standalone_compiled', broken_compile)
    monkeypatch.setattr(backend, '_broken', {})
    monkeypatch.setattr(backend, '_forms', {})  # none decided yet either
    layer = make('AconC', 8).eval()
    x = torch.randn(4, 8, 32, 32)
    with ops.use_backend('auto'), torch.inference_mode():
        with pytest.warns(
                UserWarning,
                match='fused inference kernels do not work on cpu '
                '\\(RuntimeError: no C\\+\\+ compiler\\)'):
            torch.testing.assert_close(layer(x), layer.formula(x))
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # warned once only
            torch.testing.assert_close(layer(x), layer.formula(x))
    with ops.use_backend('compiled'), torch.inference_mode():
        with pytest.raises(RuntimeError, match='no C\\+\\+ compiler'):
            layer(x)
