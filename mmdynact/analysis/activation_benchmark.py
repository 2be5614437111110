"""Time and memory of each activation layer against plain PyTorch.

Forward + backward in training mode on one input, side by side in one run,
in the *forms* chosen (:data:`FORMS`; by default all that the device runs):

* ``triton``: the layer's kernels in Triton (CUDA);
* ``compiled``: the kernels' torch form fused by inductor;
* ``eager``: the kernels' torch form as written;
* ``plain``: the layer's plain formula (``formula(x)``);
* ``relu``: ``nn.ReLU``.

A layer's targets (its :class:`~mmdynact.models.activations.ActivationSpec`)
are for its device's :func:`target_form`: Triton against ReLU (and the host
time) on CUDA, compiled against the plain formula elsewhere; a target whose
forms were not timed says which are missing. A reference-only layer (no
kernels) runs its formula in every form: it is timed as ``plain`` and
``relu`` only, and has no targets.

Times are medians over rounds in which the forms run one after another, so
machine noise hits them alike. On CUDA each call also reports its *host
time*: how long Python took to issue the forward and backward (the GPU runs
them asynchronously; when a layer's host time exceeds its GPU time, the GPU
waits for Python); on a CPU, the times are host times. Memory is the bytes of
every distinct tensor autograd keeps for backward, input included, output
excluded, relative to the input (:func:`mmdynact.testing.saved_tensor_bytes`),
in the layer's :func:`main_form` and in its plain formula.

Before timing, each layer is used the ways a process mixes them (float64,
float32 training and evaluation, bf16 autocast, channels-last, odd sizes)
in its main form, so the times show that the fast path survives such use.
"""
import statistics
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
from torch import Tensor, nn

from mmdynact import ops
from mmdynact.models.activations import ACTIVATIONS
from mmdynact.ops import triton_support
from mmdynact.testing import saved_tensor_bytes
from .timing import autocast_for, milliseconds, timed

#: every form a layer can be timed in, in table order
FORMS = ('triton', 'compiled', 'eager', 'plain', 'relu')
#: the forms that run a layer's kernels (:mod:`mmdynact.ops` backends)
KERNEL_FORMS = ('triton', 'compiled', 'eager')
#: most saved memory per layer, relative to its input
MEMORY_TARGET = 1.05
#: most host time per layer call (forward + backward) on a GPU
HOST_TARGET_US = 150.0
DTYPES = dict(fp32=torch.float32, bf16=torch.bfloat16, fp16=torch.float16)


class Measurement(NamedTuple):
    """One layer's results; times in seconds, memory relative to input.

    ``times`` and ``host_times`` have the forms timed; ``memory`` and
    ``first_call`` are of the :func:`main_form` (None for a reference-only
    layer, or when no kernel form was timed).
    """
    name: str
    times: Dict[str, float]
    host_times: Dict[str, float]
    memory: Optional[float]
    plain_memory: float
    first_call: Optional[float]


def target_form(device: torch.device) -> str:
    """The form the targets are for: Triton on CUDA, compiled elsewhere."""
    return 'triton' if device.type == 'cuda' else 'compiled'


def default_forms(device: torch.device) -> List[str]:
    """Every form on CUDA; all but Triton elsewhere."""
    return [
        form for form in FORMS if device.type == 'cuda' or form != 'triton'
    ]


def check_forms(forms: Sequence[str]) -> List[str]:
    """``forms`` in table order, or a ValueError that says what to choose."""
    unknown = [form for form in forms if form not in FORMS]
    if unknown or not forms:
        raise ValueError(f'--forms: {", ".join(unknown) or "none given"}; '
                         f'choose from {",".join(FORMS)}')
    return [form for form in FORMS if form in forms]


def check_request(layers: Optional[Sequence[str]], forms: Sequence[str],
                  device: torch.device) -> List[str]:
    """``forms``, checked: a ValueError for an unknown layer or form, or for
    ``triton`` where Triton cannot run."""
    unknown = set(layers or ()) - set(ACTIVATIONS)
    if unknown:
        raise ValueError(f'unknown layers {sorted(unknown)}; choose from '
                         f'{", ".join(ACTIVATIONS)}')
    forms = check_forms(forms)
    if 'triton' in forms:
        check_triton(device)
    return forms


def check_triton(device: torch.device) -> None:
    """A ValueError saying why, if the ``triton`` form cannot run on
    ``device``."""
    reason = triton_support.unusable_reason(device)
    if reason is not None:
        raise ValueError(f'--forms triton cannot run on {device}: {reason}; '
                         f'leave triton out of --forms')


def main_form(forms: Sequence[str], device: torch.device) -> Optional[str]:
    """The kernel form of the first call, the mixed use and the memory: the
    :func:`target_form` if timed, else the first kernel form timed."""
    kernel_forms = [form for form in KERNEL_FORMS if form in forms]
    if target_form(device) in kernel_forms:
        return target_form(device)
    return kernel_forms[0] if kernel_forms else None


def _in_form(layer: nn.Module, form: str) -> Callable[[Tensor], Tensor]:

    def run(x: Tensor) -> Tensor:
        with ops.use_backend(form):
            return layer(x)

    return run


def _call(fn: Callable[[Tensor], Tensor], x: Tensor, grad: Tensor):
    """``(wall s, host s)`` of one forward + backward on a fresh leaf."""
    leaf = x.detach().requires_grad_()

    def step() -> None:
        with autocast_for(x.dtype, x.device):
            y = fn(leaf)
        y.backward(grad)

    return timed(step, x.device)


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


def _saved_memory(fn: Callable[[Tensor], Tensor], x: Tensor) -> float:
    with autocast_for(x.dtype, x.device):
        saved, _ = saved_tensor_bytes(fn, x.detach().requires_grad_())
    return saved / (x.numel() * x.element_size())


def measure(cls: type, x: Tensor, grad: Tensor, warmup: int, repeats: int,
            mixed_use: bool, forms: Sequence[str]) -> Measurement:
    """Time ``cls(C)`` on ``x`` in ``forms`` (see the module docstring)."""
    device = x.device
    layer = cls(x.shape[1]).to(device).train()
    reference_only = cls.spec.reference_only
    variants = {
        form: _in_form(layer, form)
        for form in forms if form in KERNEL_FORMS and not reference_only
    }
    if 'plain' in forms:
        variants['plain'] = layer.formula
    if 'relu' in forms:
        variants['relu'] = nn.ReLU()
    main = main_form(list(variants), device)
    first_call = memory = None
    if main is not None:
        first_call = _call(variants[main], x, grad)[0]
        if mixed_use:
            use_in_mixed_ways(layer, main, device)
    walls: Dict[str, List[float]] = {form: [] for form in variants}
    hosts: Dict[str, List[float]] = {form: [] for form in variants}
    for round_ in range(warmup + repeats):
        for form, fn in variants.items():
            wall, host = _call(fn, x, grad)
            if round_ >= warmup:
                walls[form].append(wall)
                hosts[form].append(host)
    if main is not None:
        memory = _saved_memory(variants[main], x)
    return Measurement(cls.__name__, _medians(walls), _medians(hosts), memory,
                       _saved_memory(layer.formula, x), first_call)


def _medians(samples: Dict[str, List[float]]) -> Dict[str, float]:
    return {
        form: statistics.median(values)
        for form, values in samples.items()
    }


def _targets(name: str, device: torch.device):
    """``(time target, the two forms it compares)`` of a fused layer."""
    spec = ACTIVATIONS[name].spec
    if device.type == 'cuda':
        return spec.gpu_time_target, ('triton', 'relu')
    return spec.cpu_time_target, ('compiled', 'plain')


def missing_forms(result, forms: Sequence[str]) -> Optional[str]:
    """``'needs --forms a,b'`` for those of ``forms`` that ``result`` (a
    layer's, with ``times`` per form) has not timed, or None."""
    missing = [form for form in forms if form not in result.times]
    return f'needs --forms {",".join(missing)}' if missing else None


def verdict(result: Measurement, device: torch.device) -> str:
    """``'yes'`` or ``'NO'``: whether the layer meets its targets (its
    spec's, on this device); ``'reference only'`` for a layer without
    kernels; what is missing when the forms timed cannot tell."""
    if ACTIVATIONS[result.name].spec.reference_only:
        return 'reference only'
    target, compared = _targets(result.name, device)
    missing = missing_forms(result, compared)
    if missing:
        return missing
    fast = result.times[compared[0]] / result.times[compared[1]] <= target
    if device.type == 'cuda':
        fast = fast and result.host_times['triton'] * 1e6 <= HOST_TARGET_US
    return ('yes'
            if fast and round(result.memory, 2) <= MEMORY_TARGET else 'NO')


def target_text(name: str, device: torch.device) -> str:
    """The layer's time target, as the table writes it."""
    if ACTIVATIONS[name].spec.reference_only:
        return 'reference only'
    target, (_, reference) = _targets(name, device)
    if device.type == 'cuda':
        return f'<= {target}x relu, host <= {HOST_TARGET_US:.0f} us'
    return f'<= {target}x {reference}'


def ratio_text(result, form: str, reference: str) -> str:
    """``'0.50x'``: the time of ``form`` over ``reference`` in ``result``
    (a layer's, with ``name`` and ``times`` per form); ``'-'`` for a
    reference-only layer, or what is missing."""
    if ACTIVATIONS[result.name].spec.reference_only:
        return '-'
    missing = missing_forms(result, (form, reference))
    if missing:
        return missing
    return f'{result.times[form] / result.times[reference]:.2f}x'


def form_columns(forms: Sequence[str], cuda: bool) -> List[str]:
    """The headers of a table's time columns: ms per form, and its host us
    on CUDA."""
    columns = []
    for form in forms:
        columns += [f'{form} ms'] + ([f'{form} host us'] if cuda else [])
    return columns


def form_cells(result, forms: Sequence[str], cuda: bool) -> List[str]:
    """A result's cells under :func:`form_columns` (``-`` for a form not
    timed); ``result`` has ``times`` and ``host_times`` per form."""
    cells = []
    for form in forms:
        timed = form in result.times
        cells.append(milliseconds(result.times[form]) if timed else '-')
        if cuda:
            cells.append(
                f'{result.host_times[form] * 1e6:.0f}' if timed else '-')
    return cells


def table(results: List[Measurement], forms: Sequence[str],
          device: torch.device) -> str:
    """The results as a Markdown table, a column per form timed (and its
    host time on CUDA)."""
    cuda = device.type == 'cuda'
    target = target_form(device)
    header = ['layer'] + form_columns(forms, cuda) + [
        f'{target} / plain', f'{target} / relu', 'time target',
        f'memory / input (<= {MEMORY_TARGET}x)', 'plain memory',
        'first call s', 'met'
    ]
    lines = ['| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
    for r in results:
        row = [r.name] + form_cells(r, forms, cuda) + [
            ratio_text(r, target, 'plain'),
            ratio_text(r, target, 'relu'),
            target_text(r.name, device),
            '-' if r.memory is None else f'{r.memory:.2f}x',
            f'{r.plain_memory:.2f}x',
            '-' if r.first_call is None else f'{r.first_call:.1f}',
            verdict(r, device),
        ]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def benchmark(shape,
              dtype: torch.dtype,
              device: torch.device,
              warmup: int,
              repeats: int,
              mixed_use: bool,
              layers: Optional[List[str]] = None,
              forms: Optional[Sequence[str]] = None) -> List[Measurement]:
    """Measure every registered layer (or those named in ``layers``) in
    ``forms`` (default: :func:`default_forms`)."""
    forms = check_request(layers,
                          default_forms(device) if forms is None else forms,
                          device)
    generator = torch.Generator(device).manual_seed(0)
    x = torch.randn(shape, device=device, generator=generator).to(dtype)
    grad = torch.randn(shape, device=device, generator=generator).to(dtype)
    return [
        measure(cls, x, grad, warmup, repeats, mixed_use, forms)
        for name, cls in ACTIVATIONS.items()
        if layers is None or name in layers
    ]
