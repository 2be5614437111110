"""The Triton kernels on a CUDA device at real sizes: ``pytest -m cuda``.

Each check is a function of a device and sizes. The ``cuda`` tests call them
on the GPU at real sizes; the unmarked ``*_on_cpu`` tests call the same
functions on CPU tensors at tiny sizes, through Triton's interpreter, so the
ordinary test run checks their logic too. (``pytest -m cuda`` compiles the
kernels for the GPU instead of interpreting them, see tests/conftest.py.)

**The matrix against float64.** Every layer runs through its Triton kernels
in fp32, bf16 and fp16 (half precision: the input in that dtype and float32
parameters, as under autocast), contiguous and channels-last, and is
compared with its plain ``formula`` on float64 copies of the input and
parameters: output, input gradient, parameter gradients and the running
statistics of its batch norms. All 3 x 2 dtype/layout variants of every
layer run, each at one of the real sizes (ResNet stage 1 at batch 32, a
detection feature map, a ResNet-50 stage 4) and in train or eval mode, in
turn, so that each layer also meets every size in both layouts and both
modes in every layout and dtype (:func:`matrix_case`). Running every
variant at every size in both modes would multiply the run time by 6 and
check little more: the kernels' code paths depend on dtype, layout, mode
and tile shape, and the tiles of these sizes are already all met. The time
of a run goes mostly into compiling the kernels, one compilation per
kernel, dtype, layout and tiling, which this matrix keeps at about 200.

Tolerances scale with the dtype (:data:`TOLERANCES`). Element-wise values
(output, input gradient) are compared element by element. The input
gradient of a piecewise-linear layer (DY-ReLU, FReLU) jumps where two pieces
cross; float32 and float64 coefficients place that crossing a rounding error
apart, so a few of millions of elements land on different pieces. That
many may differ (``Tolerance.crossings``: at the largest size 136, fewer
than one tile of a kernel, 2048 elements; more under autocast, whose bf16
hyper-functions move the crossings further). Parameter gradients and
running statistics are sums over many elements, compared by their
relative error over the whole tensor.

The other checks: ``backward(retain_graph=True)`` twice; a training step
captured in a CUDA graph and replayed, against the same steps run eagerly;
a training step under ``torch.cuda.set_sync_debug_mode('error')`` (no host
synchronisation in the layers); and a small mmengine model trained by
mmengine's Runner with ``compile=True`` against the same training eagerly.
"""
import copy
import gc
from typing import Iterator, NamedTuple, Optional, Sequence, Tuple

import pytest
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import Tensor, nn
from torch.utils.data import Dataset

from mmdynact import ops
from mmdynact.models.activations import ACTIVATIONS
from mmdynact.ops import triton_support
from tests.conftest import runs_unmarked_tests
from tests.kernel_checks import check_backward_twice, forward_backward, make

NAMES = list(ACTIVATIONS)
#: (N, C, H, W): ResNet stage 1 at batch 32, a detector's feature map, a
#: ResNet-50 stage 4 at batch 8
REAL_SIZES = ((32, 256, 56, 56), (2, 64, 100, 168), (8, 2048, 7, 7))
#: (dtype, channels_last) of the matrix
VARIANTS = tuple((dtype, channels_last)
                 for dtype in (torch.float32, torch.bfloat16, torch.float16)
                 for channels_last in (False, True))
#: small enough for Triton's interpreter
CPU_SHAPE = (2, 8, 6, 5)
CUDA = torch.device('cuda')
CPU = torch.device('cpu')


def _cuda_skip_reason() -> Optional[str]:
    if not torch.cuda.is_available():
        return 'no CUDA device'
    if triton_support.INTERPRETED:
        return ('Triton runs interpreted in this run (TRITON_INTERPRET=1, '
                'which tests/conftest.py sets unless only the cuda tests '
                'run): run them on their own, pytest -m cuda')
    return None


def on_cuda(test):
    """Mark ``test`` ``cuda``; skip it, saying why, without a CUDA device."""
    reason = _cuda_skip_reason()
    test = pytest.mark.skipif(reason is not None, reason=reason or '')(test)
    return pytest.mark.cuda(test)


@pytest.fixture
def free_cuda_memory() -> Iterator[None]:
    """Give the cached blocks of a large case back before the next one."""
    yield
    gc.collect()
    torch.cuda.empty_cache()


# ------------------------------------------------------------- tolerances


class Tolerance(NamedTuple):
    #: relative, element-wise, with an absolute part of a tenth of it times
    #: the largest magnitude of the tensor
    elements: float
    #: relative error of a whole tensor of sums (norm of the difference
    #: over the norm of the expected tensor)
    sums: float
    #: the share of input-gradient elements that may sit on another piece
    #: than in float64 (see the module doc), beside 8 elements
    crossings: float

    def crossing_allowance(self, numel: int) -> int:
        return 8 + int(numel * self.crossings)


#: float32 coefficients: up to 4 crossings in 10 million elements were seen
#: at the largest size (the torch form in float32, on CPU)
TOLERANCES = {
    torch.float32: Tolerance(elements=1e-4, sums=2e-3, crossings=5e-6),
    torch.bfloat16: Tolerance(elements=1.6e-2, sums=1e-2, crossings=5e-6),
    torch.float16: Tolerance(elements=2e-3, sums=1e-2, crossings=5e-6),
}
#: bf16 autocast also runs the hyper-functions' linear layers in bf16: their
#: coefficients are bf16-accurate, and about 5 in 100 000 elements cross
AUTOCAST = Tolerance(elements=3e-2, sums=3e-2, crossings=2e-4)


def assert_elements_close(actual: Tensor,
                          expected: Tensor,
                          rtol: float,
                          what: str,
                          allowed: int = 0) -> None:
    """All but ``allowed`` elements of ``actual`` within ``rtol`` of
    ``expected`` (plus ``rtol / 10`` of its largest magnitude)."""
    actual, expected = actual.detach().double(), expected.detach().double()
    scale = float(expected.abs().max())
    error = (actual - expected).abs()
    off = int((error > rtol * expected.abs() + 0.1 * rtol * scale).sum())
    assert off <= allowed, (
        f'{what}: {off} of {expected.numel()} elements differ by more than '
        f'rtol={rtol:g} (largest difference {float(error.max()):.3g}, '
        f'largest value {scale:.3g}; {allowed} allowed)')


def assert_sums_close(actual: Tensor, expected: Tensor, tolerance: float,
                      floor: float, what: str) -> None:
    """``|actual - expected| <= tolerance * max(|expected|, floor)`` over
    the whole tensor (``floor``: the scale of gradients that are zero in
    exact arithmetic, which float32 leaves at rounding noise)."""
    actual, expected = actual.detach().double(), expected.detach().double()
    difference = float((actual - expected).norm())
    scale = max(float(expected.norm()), floor)
    assert difference <= tolerance * scale, (
        f'{what}: |difference| {difference:.3g} > {tolerance:g} x '
        f'{scale:.3g} (|expected| {float(expected.norm()):.3g})')


# ----------------------------------------------- the matrix against float64


class Case(NamedTuple):
    name: str
    dtype: torch.dtype
    channels_last: bool
    shape: Tuple[int, ...]
    training: bool

    def __str__(self) -> str:
        return '-'.join(
            (self.name, str(self.dtype).replace('torch.', ''),
             'channels_last' if self.channels_last else 'contiguous',
             'x'.join(map(str,
                          self.shape)), 'train' if self.training else 'eval'))


def matrix_case(name: str, variant: int) -> Case:
    """Layer ``name`` in ``VARIANTS[variant]`` at a real size and in a mode
    that turn with the layer and the variant: over its six variants, a
    layer meets every size in both layouts, and both modes in every layout
    and every dtype."""
    layer = NAMES.index(name)
    dtype_index, channels_last = divmod(variant, 2)
    return Case(name, *VARIANTS[variant],
                REAL_SIZES[(layer + variant) % len(REAL_SIZES)],
                (layer + dtype_index + channels_last) % 2 == 0)


def check_against_float64(case: Case,
                          device: torch.device,
                          autocast: bool = False) -> None:
    """The layer's Triton path against its formula in float64: output,
    gradients of the input and parameters, running statistics, dtypes and
    memory formats (see the module doc). ``autocast``: the forward under
    ``torch.autocast(dtype=torch.bfloat16)`` (the input must be bf16)."""
    tolerance = AUTOCAST if autocast else TOLERANCES[case.dtype]
    memory_format = (
        torch.channels_last if case.channels_last else torch.contiguous_format)
    layer = make(case.name, case.shape[1]).to(device).train(case.training)
    reference = copy.deepcopy(layer).double()
    x, grad = (
        torch.randn(case.shape,
                    device=device).to(case.dtype, memory_format=memory_format)
        for _ in range(2))
    y, grads = forward_backward(layer, x, grad, 'triton',
                                torch.bfloat16 if autocast else None)
    y_ref, grads_ref = forward_backward(reference, x.double(), grad.double(),
                                        None)
    assert y.dtype == grads[0].dtype == case.dtype
    assert y.is_contiguous(memory_format=memory_format)
    assert grads[0].is_contiguous(memory_format=memory_format)
    assert_elements_close(y, y_ref, tolerance.elements, f'{case}: output')
    assert_elements_close(grads[0], grads_ref[0], tolerance.elements,
                          f'{case}: input gradient',
                          tolerance.crossing_allowance(x.numel()))
    names = [key for key, _ in layer.named_parameters()]
    floor = 1e-3 * max(float(g.norm()) for g in grads_ref[1:])
    for key, param_grad, param_grad_ref in zip(names, grads[1:],
                                               grads_ref[1:]):
        assert param_grad.dtype == torch.float32, key
        assert_sums_close(param_grad, param_grad_ref, tolerance.sums, floor,
                          f'{case}: gradient of {key}')
    for (key, value), expected in zip(layer.state_dict().items(),
                                      reference.state_dict().values()):
        if value.is_floating_point():
            assert_sums_close(value, expected, tolerance.sums, 1e-6,
                              f'{case}: {key}')
        else:
            assert torch.equal(value, expected), f'{case}: {key}'


@on_cuda
@pytest.mark.usefixtures('free_cuda_memory')
@pytest.mark.parametrize(
    'case', [
        matrix_case(name, variant) for name in NAMES
        for variant in range(len(VARIANTS))
    ],
    ids=str)
def test_matches_float64_formula(case):
    check_against_float64(case, CUDA)


@on_cuda
@pytest.mark.usefixtures('free_cuda_memory')
@pytest.mark.parametrize('name', NAMES)
def test_bfloat16_autocast_matches_float64_formula(name):
    # the layer's bf16 channels-last case, its forward under autocast
    check_against_float64(matrix_case(name, 3), CUDA, autocast=True)


def cpu_case(name: str) -> Case:
    """One case per layer at a tiny size; over the layers, every dtype and
    layout, in train and eval mode."""
    index = NAMES.index(name)
    return Case(name, *VARIANTS[index % len(VARIANTS)], CPU_SHAPE,
                index // 2 % 2 == 0)


@pytest.mark.parametrize('case', [cpu_case(name) for name in NAMES], ids=str)
def test_matches_float64_formula_on_cpu(case):
    check_against_float64(case, CPU)


@pytest.mark.parametrize('name', ['DyReLUC', 'MetaAconC'])
def test_bfloat16_autocast_matches_float64_formula_on_cpu(name):
    check_against_float64(
        Case(name, torch.bfloat16, True, CPU_SHAPE, True), CPU, autocast=True)


def test_only_a_run_of_the_cuda_tests_compiles_the_kernels():
    # tests/conftest.py: the CPU tests need Triton's interpreter
    assert runs_unmarked_tests('')
    assert runs_unmarked_tests('not cuda')
    assert runs_unmarked_tests('cuda or not compiled')
    assert not runs_unmarked_tests('cuda')
    assert not runs_unmarked_tests('cuda and not slow')


def test_comparisons_catch_wrong_elements():
    expected = torch.linspace(-2, 2, 1000, dtype=torch.float64)
    close = expected * (1 + 1e-5)
    assert_elements_close(close, expected, 1e-4, 'close')
    crossed = close.clone()
    crossed[::250] += 1  # four elements on another piece
    assert_elements_close(crossed, expected, 1e-4, 'crossed', allowed=4)
    crossed[1] += 1
    with pytest.raises(AssertionError, match='5 of 1000 elements differ'):
        assert_elements_close(crossed, expected, 1e-4, 'crossed', allowed=4)
    assert_sums_close(close, expected, 1e-4, 0.0, 'close')
    assert_sums_close(
        torch.full((3, ), 1e-9), torch.zeros(3), 1e-3, 1.0,
        'zero in exact arithmetic')
    with pytest.raises(AssertionError, match='gradient of w'):
        assert_sums_close(expected * 1.01, expected, 1e-3, 0.0,
                          'gradient of w')


# ------------------------------------------------------ autograd, graphs


@on_cuda
@pytest.mark.usefixtures('free_cuda_memory')
@pytest.mark.parametrize('name', NAMES)
def test_backward_twice_with_retained_graph(name):
    # (its CPU version: tests/test_kernel_backends.py)
    check_backward_twice(name, CUDA,
                         matrix_case(name, 0).shape, torch.float32, 'triton')


#: a conv and the layer; fp32, contiguous (the tiles of the larger sizes)
STEP_SHAPE = (4, 64, 32, 32)


def step_model(name: str, device: torch.device,
               channels: int) -> Tuple[nn.Module, torch.optim.Optimizer]:
    """A 3x3 conv followed by layer ``name``, and its SGD optimizer."""
    model = nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1), make(name,
                                                          channels)).to(device)
    return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer,
                  x: Tensor, target: Tensor) -> Tensor:
    """Forward, MSE loss, backward and optimizer step; the loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = F.mse_loss(model(x), target)
    loss.backward()
    optimizer.step()
    return loss.detach()


def random_batches(count: int, shape: Sequence[int],
                   device: torch.device) -> list:
    return [(torch.randn(shape,
                         device=device), torch.randn(shape, device=device))
            for _ in range(count)]


def assert_same_state(model: nn.Module, expected: nn.Module,
                      **tolerance) -> None:
    """Parameters and buffers of ``model`` as those of ``expected``."""
    for (key, value), value_ref in zip(model.state_dict().items(),
                                       expected.state_dict().values()):
        torch.testing.assert_close(value, value_ref, msg=key, **tolerance)


def check_training_steps(name: str, device: torch.device,
                         shape: Sequence[int]) -> None:
    """Training steps through the Triton kernels equal those through the
    torch form (on a GPU: CUDA-graph replay and no synchronisation are
    checked with the same steps, below)."""
    model, optimizer = step_model(name, device, shape[1])
    model_ref = copy.deepcopy(model)
    optimizer_ref = torch.optim.SGD(
        model_ref.parameters(), lr=0.1, momentum=0.9)
    for x, target in random_batches(2, shape, device):
        with ops.use_backend('triton'):
            loss = training_step(model, optimizer, x, target)
        with ops.use_backend('eager'):
            loss_ref = training_step(model_ref, optimizer_ref, x, target)
        torch.testing.assert_close(loss, loss_ref)
    assert_same_state(model, model_ref, rtol=1e-4, atol=1e-5)


def test_training_steps_on_cpu():
    # CUDA-graph capture and the sync debug mode exist only on CUDA: on CPU,
    # the steps that the CUDA tests capture and run (and their comparison)
    check_training_steps('DyReLUC', CPU, CPU_SHAPE)


def check_cuda_graph_replay(name: str, shape: Sequence[int]) -> None:
    """A training step captured in a CUDA graph and replayed equals the
    same step run eagerly, after the same warm-up steps (as in PyTorch's
    CUDA-graph notes: warm-up on a side stream, then capture)."""
    model, optimizer = step_model(name, CUDA, shape[1])
    model_ref = copy.deepcopy(model)
    optimizer_ref = torch.optim.SGD(
        model_ref.parameters(), lr=0.1, momentum=0.9)
    warm_up, replayed = random_batches(3, shape,
                                       CUDA), random_batches(2, shape, CUDA)
    static_x, static_target = (t.clone() for t in replayed[0])
    with ops.use_backend('triton'):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for x, target in warm_up:
                training_step(model, optimizer, x, target)
        torch.cuda.current_stream().wait_stream(side)
        for x, target in warm_up:
            training_step(model_ref, optimizer_ref, x, target)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_loss = training_step(model, optimizer, static_x,
                                        static_target)
        for x, target in replayed:
            static_x.copy_(x)
            static_target.copy_(target)
            graph.replay()
            loss = training_step(model_ref, optimizer_ref, x, target)
            torch.testing.assert_close(static_loss, loss)
    assert_same_state(model, model_ref, rtol=1e-5, atol=1e-6)


@on_cuda
@pytest.mark.parametrize('name', NAMES)
def test_training_step_in_a_cuda_graph(name):
    check_cuda_graph_replay(name, STEP_SHAPE)


def check_no_synchronisation(name: str, shape: Sequence[int]) -> None:
    """A training step (after a first one: compilation, the Triton probe)
    with ``torch.cuda.set_sync_debug_mode('error')``, which raises on any
    synchronisation of the host with the GPU."""
    model, optimizer = step_model(name, CUDA, shape[1])
    (x, target), = random_batches(1, shape, CUDA)
    with ops.use_backend('triton'):
        training_step(model, optimizer, x, target)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode('error')
        try:
            loss = training_step(model, optimizer, x, target)
            with pytest.raises(RuntimeError, match='synchroniz'):
                loss.item()  # the mode is in force
        finally:
            torch.cuda.set_sync_debug_mode('default')
    assert torch.isfinite(loss)


@on_cuda
@pytest.mark.parametrize('name', NAMES)
def test_training_step_does_not_synchronise(name):
    check_no_synchronisation(name, STEP_SHAPE)


# ------------------------------------------------- mmengine compile=True

#: the kernel families: pooling + projection + attention + piecewise max,
#: the funnel, pooling + ACON
COMPILED_LAYERS = ('DyReLUC', 'FReLU', 'MetaAconC')


class LayersNet(BaseModel):
    """A conv and one of our layers per name, pooling and a linear head
    that regresses one number per image."""

    def __init__(self, names: Sequence[str], channels: int) -> None:
        super().__init__()
        body = []
        for index, name in enumerate(names):
            body += [
                nn.Conv2d(
                    3 if index == 0 else channels, channels, 3, padding=1),
                make(name, channels)
            ]
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(channels, 1)

    def forward(self, inputs, target=None, mode='tensor'):
        out = self.head(self.body(inputs).mean((2, 3))).squeeze(1)
        if mode == 'loss':
            return dict(loss=F.mse_loss(out, target))
        return out


class RandomImages(Dataset):
    """``length`` random images ``(3, H, W)`` and targets, the same on every
    run."""

    def __init__(self, length: int, size: Tuple[int, int]) -> None:
        self.length = length
        self.size = size

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        generator = torch.Generator().manual_seed(index)
        return dict(
            inputs=torch.randn(3, *self.size, generator=generator),
            target=torch.randn((), generator=generator))


def train_with_runner(model: BaseModel, work_dir, compile_cfg,
                      shape: Sequence[int], iters: int) -> Runner:
    """Train ``model`` for ``iters`` iterations of batches ``shape``
    ``(N, 3, H, W)`` with mmengine's Runner and ``compile=compile_cfg``,
    through the Triton kernels."""
    runner = Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'{work_dir.parent.name}-{work_dir.name}',
        train_dataloader=dict(
            dataset=RandomImages(shape[0] * iters, shape[2:]),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=shape[0],
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=iters),
        default_hooks=dict(checkpoint=None, logger=None),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
        cfg=dict(compile=compile_cfg))
    with ops.use_backend('triton'):
        runner.train()
    return runner


def check_runner_compile(device: torch.device, compile_cfg, tmp_path,
                         shape: Sequence[int], channels: int) -> None:
    """A model with our layers trained by a Runner with ``compile_cfg``
    (mmengine compiles ``model.train_step``) ends as the same training run
    eagerly, and its layers did run inside the compiled code."""
    torch._dynamo.reset()
    model = LayersNet(COMPILED_LAYERS, channels)
    model_ref = copy.deepcopy(model)
    compiling = []
    for layer in model.body[1::2]:
        layer.register_forward_pre_hook(lambda module, args: compiling.append(
            torch.compiler.is_compiling()))
    runner = train_with_runner(model, tmp_path / 'compiled', compile_cfg,
                               shape, 3)
    runner_ref = train_with_runner(model_ref, tmp_path / 'eager', False, shape,
                                   3)
    assert 'train_step' in vars(runner.model), 'mmengine did not compile it'
    assert compiling and all(compiling), compiling
    assert next(runner.model.parameters()).device.type == device.type
    losses, _ = runner.message_hub.get_scalar('train/loss').data
    losses_ref, _ = runner_ref.message_hub.get_scalar('train/loss').data
    assert len(losses) == len(losses_ref) == 3
    torch.testing.assert_close(
        torch.as_tensor(losses),
        torch.as_tensor(losses_ref),
        rtol=1e-4,
        atol=1e-6)
    assert_same_state(runner.model, runner_ref.model, rtol=1e-4, atol=1e-5)


@on_cuda
def test_runner_compile_true(tmp_path):
    # inductor compiles the model around the layers' custom ops
    check_runner_compile(CUDA, True, tmp_path, (8, 3, 32, 32), 32)


def test_runner_compile_on_cpu(tmp_path):
    # dynamo and AOTAutograd trace the model as with compile=True; the
    # inductor code generation (C++ on CPU) is left out for time
    check_runner_compile(CPU, dict(backend='aot_eager'), tmp_path,
                         (2, 3, 6, 5), 8)
