"""Time and memory of each activation layer against plain PyTorch.

Forward + backward in training mode on one input, side by side in one run:

* ``ours``: the layer in the form its device runs by default (Triton
  kernels on CUDA, the compiled torch form on CPU);
* ``compiled``: on CUDA, the torch form fused by inductor (the form before
  the Triton kernels);
* ``eager``: the torch form as written;
* ``straightforward``: the layer's plain formula (``formula(x)``);
* ``relu``: ``nn.ReLU``.

Times are medians over rounds in which the variants run one after another,
so machine noise hits them alike. On CUDA each call also reports its *host
time*: how long Python took to issue the forward and backward (the GPU runs
them asynchronously; when a layer's host time exceeds its GPU time, the GPU
waits for Python). Memory is the bytes of every distinct tensor autograd
keeps for backward, input included, output excluded, relative to the input
(:func:`mmdynact.testing.saved_tensor_bytes`).

Before timing, each layer is used the ways a process mixes them (float64,
float32 training and evaluation, bf16 autocast, channels-last, odd sizes),
so the times show that the fast path survives such use.
"""
import contextlib
import statistics
import time
from typing import Callable, Dict, List, NamedTuple, Optional

import torch
from torch import Tensor, nn

from mmdynact import ops
from mmdynact.models.activations import ACTIVATIONS
from mmdynact.testing import saved_tensor_bytes

#: most saved memory per layer, relative to its input
MEMORY_TARGET = 1.05
#: most host time per layer call (forward + backward) on a GPU
HOST_TARGET_US = 150.0
DTYPES = dict(fp32=torch.float32, bf16=torch.bfloat16, fp16=torch.float16)


class Measurement(NamedTuple):
    """One layer's results; times in seconds, memory relative to input."""
    name: str
    times: Dict[str, float]
    host_times: Dict[str, float]
    memory: float
    straightforward_memory: float
    first_call: float


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _autocast(x: Tensor):
    if x.dtype in (torch.bfloat16, torch.float16):
        return torch.autocast(x.device.type, dtype=x.dtype)
    return contextlib.nullcontext()


def _in_form(layer: nn.Module, form: str) -> Callable[[Tensor], Tensor]:

    def run(x: Tensor) -> Tensor:
        with ops.use_backend(form):
            return layer(x)

    return run


def _call(fn: Callable[[Tensor], Tensor], x: Tensor, grad: Tensor):
    """``(wall s, host s)`` of one forward + backward on a fresh leaf."""
    leaf = x.detach().requires_grad_()
    _synchronize(x.device)
    start = time.perf_counter()
    with _autocast(x):
        y = fn(leaf)
    y.backward(grad)
    host = time.perf_counter() - start
    _synchronize(x.device)
    return time.perf_counter() - start, host


def use_in_mixed_ways(layer: nn.Module, form: str,
                      device: torch.device) -> None:
    """Run ``layer`` in float64, float32 training and evaluation, bf16
    autocast, channels-last and odd sizes (it ends in float32 training)."""
    channels = layer.channels
    run = _in_form(layer, form)
    for dtype, channels_last, shape in [
        (torch.float64, False, (2, channels, 9, 7)),
        (torch.float32, True, (3, channels, 12, 10)),
        (torch.float32, False, (1, channels, 17, 5)),
    ]:
        layer.to(dtype).train()
        x = torch.randn(shape, dtype=dtype, device=device, requires_grad=True)
        if channels_last:
            x = x.to(memory_format=torch.channels_last)
        run(x).sum().backward()
        layer.eval()
        with torch.no_grad():
            run(x.detach())
    layer.float().train()
    x = torch.randn(2, channels, 8, 8, device=device, dtype=torch.bfloat16)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        run(x.requires_grad_()).float().sum().backward()


def measure(cls: type, x: Tensor, grad: Tensor, warmup: int, repeats: int,
            mixed_use: bool) -> Measurement:
    """Time ``cls(C)`` and its references on ``x`` (see the module
    docstring)."""
    device = x.device
    ours = 'triton' if device.type == 'cuda' else 'compiled'
    layer = cls(x.shape[1]).to(device).train()
    variants = {'ours': _in_form(layer, ours)}
    if device.type == 'cuda':
        variants['compiled'] = _in_form(layer, 'compiled')
    variants.update(
        eager=_in_form(layer, 'eager'),
        straightforward=layer.formula,
        relu=nn.ReLU())
    first_call = _call(variants['ours'], x, grad)[0]
    if mixed_use:
        use_in_mixed_ways(layer, ours, device)
    walls: Dict[str, List[float]] = {name: [] for name in variants}
    hosts: Dict[str, List[float]] = {name: [] for name in variants}
    for round_ in range(warmup + repeats):
        for name, fn in variants.items():
            wall, host = _call(fn, x, grad)
            if round_ >= warmup:
                walls[name].append(wall)
                hosts[name].append(host)
    memory = {}
    with _autocast(x):
        for name in ('ours', 'straightforward'):
            saved, _ = saved_tensor_bytes(variants[name],
                                          x.detach().requires_grad_())
            memory[name] = saved / (x.numel() * x.element_size())
    return Measurement(cls.__name__, {
        n: statistics.median(t)
        for n, t in walls.items()
    }, {
        n: statistics.median(t)
        for n, t in hosts.items()
    }, memory['ours'], memory['straightforward'], first_call)


def met(result: Measurement, device: torch.device) -> bool:
    """Whether the layer meets its targets (its spec's, on this device)."""
    spec = ACTIVATIONS[result.name].spec
    times = result.times
    if device.type == 'cuda':
        fast = (
            times['ours'] / times['relu'] <= spec.gpu_time_target
            and result.host_times['ours'] * 1e6 <= HOST_TARGET_US)
    else:
        fast = (
            times['ours'] / times['straightforward'] <= spec.cpu_time_target)
    return fast and round(result.memory, 2) <= MEMORY_TARGET


def target_text(name: str, device: torch.device) -> str:
    spec = ACTIVATIONS[name].spec
    if device.type == 'cuda':
        return (f'<= {spec.gpu_time_target}x ReLU, host <= '
                f'{HOST_TARGET_US:.0f} us')
    return f'<= {spec.cpu_time_target}x straightforward'


def table(results: List[Measurement], device: torch.device) -> str:
    """The results as a Markdown table."""
    cuda = device.type == 'cuda'
    header = ['layer', 'ours ms']
    if cuda:
        header += ['ours host us', 'inductor ms']
    header += ['eager ms', 'straightforward ms', 'ReLU ms']
    if cuda:
        header += ['ReLU host us']
    header += [
        'vs straightforward', 'vs ReLU', 'time target',
        f'memory / input (<= {MEMORY_TARGET}x)', 'straightforward memory',
        'first call s', 'met'
    ]
    lines = ['| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
    for r in results:
        t = {name: seconds * 1e3 for name, seconds in r.times.items()}
        row = [r.name, f'{t["ours"]:.3f}' if cuda else f'{t["ours"]:.1f}']
        if cuda:
            row += [
                f'{r.host_times["ours"] * 1e6:.0f}', f'{t["compiled"]:.3f}'
            ]
        digits = 3 if cuda else 1
        row += [
            f'{t[name]:.{digits}f}'
            for name in ('eager', 'straightforward', 'relu')
        ]
        if cuda:
            row += [f'{r.host_times["relu"] * 1e6:.0f}']
        row += [
            f'{t["ours"] / t["straightforward"]:.2f}x',
            f'{t["ours"] / t["relu"]:.2f}x',
            target_text(r.name, device), f'{r.memory:.2f}x',
            f'{r.straightforward_memory:.2f}x', f'{r.first_call:.1f}',
            'yes' if met(r, device) else 'NO'
        ]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def benchmark(shape,
              dtype: torch.dtype,
              device: torch.device,
              warmup: int,
              repeats: int,
              mixed_use: bool,
              layers: Optional[List[str]] = None) -> List[Measurement]:
    """Measure every registered layer (or those named in ``layers``)."""
    unknown = set(layers or ()) - set(ACTIVATIONS)
    if unknown:
        raise ValueError(f'unknown layers {sorted(unknown)}; choose from '
                         f'{", ".join(ACTIVATIONS)}')
    generator = torch.Generator(device).manual_seed(0)
    x = torch.randn(shape, device=device, generator=generator).to(dtype)
    grad = torch.randn(shape, device=device, generator=generator).to(dtype)
    return [
        measure(cls, x, grad, warmup, repeats, mixed_use)
        for name, cls in ACTIVATIONS.items()
        if layers is None or name in layers
    ]
