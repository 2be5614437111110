"""Inference latency of the activation layers and of whole models.

Eval mode, forward only, under ``torch.inference_mode()`` (where the layers
run their passes without an autograd node), with bf16/fp16 under autocast:

* **Layers** (:func:`benchmark_layers`): each layer on one input in the
  forms chosen (those of :mod:`.activation_benchmark`): by default its
  kernels in the device's form (:func:`~.activation_benchmark.target_form`:
  Triton on CUDA, compiled elsewhere, what the ``auto`` backend runs), its
  plain formula (``plain``, ``layer.formula(x)``) and ``nn.ReLU``
  (``relu``). The target, on a CPU in fp32: no layer slower than its plain
  formula (:data:`PLAIN_TARGET`). A reference-only layer is timed as
  ``plain`` and ``relu`` only.
* **Models** (:func:`benchmark_models`): a config's model in
  ``mode='tensor'`` (the raw network outputs) on a synthetic batch that its
  data preprocessor has normalised, (a) as built, its layers in the
  backend in force, (b) with every activation running its plain formula
  (:func:`~mmdynact.models.activations.dispatch.formulas`), (c) its ReLU
  twin (:func:`~.complexity.relu_twin`). A model without mmdynact layers
  (a baseline) is timed as built only.

Each variant's first call (compilation, Triton's probe) is timed on its
own, all of them before any timing; then come warm-up rounds and timed
rounds, in each of which all variants of all layers (or of all models) run
one after another, so machine noise (a burst of other work) hits them
alike, and only some of the rounds. A time
is the *best* (minimum) of the timed rounds: on a shared machine, noise
only ever adds time. On CUDA every call is synchronised, and each layer
time has its *host time* beside it (how long Python took to issue it).
"""
import random
from typing import (Callable, Dict, Hashable, List, NamedTuple, Optional,
                    Sequence, Tuple)

import torch
from mmengine.config import Config
from torch import Tensor, nn

from mmdynact import ops
from mmdynact.models.activations import (ACTIVATIONS, ChannelActivation,
                                         fused_activations)
from mmdynact.models.activations.dispatch import formulas
from .activation_benchmark import (KERNEL_FORMS, check_request, form_cells,
                                   form_columns, main_form, missing_forms,
                                   ratio_text, target_form)
from .complexity import relu_twin
from .from_config import DEFAULT_SHAPES, TensorForward, model_to_run
from .synthetic_batch import synthetic_batch
from .timing import autocast_for, milliseconds, timed

#: most time of a layer's kernels over its plain formula (CPU, fp32)
PLAIN_TARGET = 1.0
#: a model's variants, in table order (see the module docstring)
MODEL_VARIANTS = ('model', 'formula', 'relu twin')


class LayerLatency(NamedTuple):
    """One layer's best times (s) per form timed, and first calls (s)."""
    name: str
    times: Dict[str, float]
    host_times: Dict[str, float]
    first_calls: Dict[str, float]


class ModelLatency(NamedTuple):
    """One config's best times (s) per variant timed, and the first call
    (s) of the model as built."""
    config: str
    times: Dict[str, float]
    first_call: float


def default_forms(device: torch.device) -> List[str]:
    """The device's kernel form (what ``auto`` runs), ``plain`` and
    ``relu``."""
    return [target_form(device), 'plain', 'relu']


def has_target(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether :data:`PLAIN_TARGET` applies: on a CPU, in fp32."""
    return device.type == 'cpu' and dtype == torch.float32


def first_calls(calls: Dict[Hashable, Callable[[], object]],
                device: torch.device) -> Dict[Hashable, float]:
    """Seconds of each call's first run (compilation, Triton's probe)."""
    return {key: timed(call, device)[0] for key, call in calls.items()}


def best_times(
        calls: Dict[Hashable,
                    Callable[[], object]], device: torch.device, warmup: int,
        repeats: int) -> Tuple[Dict[Hashable, float], Dict[Hashable, float]]:
    """``(best wall, best host)`` seconds of each call over ``repeats``
    timed rounds after ``warmup`` untimed ones, each round calling them all
    in an order of its own (seeded), so that no call is always the one that
    finds the caches cold."""
    walls: Dict[Hashable, List[float]] = {key: [] for key in calls}
    hosts: Dict[Hashable, List[float]] = {key: [] for key in calls}
    order = list(calls)
    shuffle = random.Random(0).shuffle
    for round_ in range(warmup + repeats):
        shuffle(order)
        for key in order:
            wall, host = timed(calls[key], device)
            if round_ >= warmup:
                walls[key].append(wall)
                hosts[key].append(host)
    return _best(walls), _best(hosts)


def _best(samples: Dict[Hashable, List[float]]) -> Dict[Hashable, float]:
    return {key: min(values) for key, values in samples.items()}


def _in_form(layer: nn.Module, form: str, x: Tensor) -> Callable[[], Tensor]:
    """``layer(x)`` in ``form``: called as a user calls it where the backend
    in force runs that form anyway (``auto``'s form of the device), under
    :func:`~mmdynact.ops.use_backend` otherwise."""
    if ops.kernel_form(x.device) == form:
        return lambda: layer(x)

    def run() -> Tensor:
        with ops.use_backend(form):
            return layer(x)

    return run


def layer_calls(cls: type, x: Tensor,
                forms: Sequence[str]) -> Dict[Hashable, Callable[[], object]]:
    """``cls(C)`` in eval mode on ``x``, a call per form of ``forms`` (the
    kernel forms left out for a reference-only layer)."""
    layer = cls(x.shape[1]).to(x.device).eval()
    calls: Dict[Hashable, Callable[[], object]] = {
        form: _in_form(layer, form, x)
        for form in forms
        if form in KERNEL_FORMS and not cls.spec.reference_only
    }
    if 'plain' in forms:
        calls['plain'] = lambda: layer.formula(x)
    if 'relu' in forms:
        relu = nn.ReLU()
        calls['relu'] = lambda: relu(x)
    return calls


def benchmark_layers(
        shape: Sequence[int],
        dtype: torch.dtype,
        device: torch.device,
        warmup: int,
        repeats: int,
        layers: Optional[Sequence[str]] = None,
        forms: Optional[Sequence[str]] = None) -> List[LayerLatency]:
    """Time the layers named in ``layers`` (default: every layer with
    kernels) in ``forms`` (default: :func:`default_forms`) on one random
    input ``shape = (N, C, H, W)``."""
    forms = check_request(layers,
                          default_forms(device) if forms is None else forms,
                          device)
    names = list(fused_activations()) if layers is None else list(layers)
    generator = torch.Generator(device).manual_seed(0)
    x = torch.randn(tuple(shape), device=device, generator=generator).to(dtype)
    calls: Dict[Hashable, Callable[[], object]] = {
        (name, form): call
        for name in names
        for form, call in layer_calls(ACTIVATIONS[name], x, forms).items()
    }
    with torch.inference_mode(), autocast_for(dtype, device):
        first = first_calls(calls, device)
        walls, hosts = best_times(calls, device, warmup, repeats)
    return [
        LayerLatency(name, _of_layer(walls, name), _of_layer(hosts, name),
                     _of_layer(first, name)) for name in names
    ]


def _of_layer(values: Dict[Hashable, float], name: str) -> Dict[str, float]:
    """``form -> value`` of layer ``name`` in ``(layer, form) -> value``."""
    return {
        form: value
        for (layer, form), value in values.items() if layer == name
    }


def layer_verdict(result: LayerLatency, device: torch.device,
                  dtype: torch.dtype) -> str:
    """``'yes'`` / ``'NO'``: whether the layer's kernels in the device's form
    take at most :data:`PLAIN_TARGET` times its plain formula; ``'-'`` where
    the target does not apply (:func:`has_target`), ``'reference only'``,
    or which forms are missing."""
    if ACTIVATIONS[result.name].spec.reference_only:
        return 'reference only'
    if not has_target(device, dtype):
        return '-'
    form = target_form(device)
    missing = missing_forms(result, (form, 'plain'))
    if missing:
        return missing
    fast = result.times[form] / result.times['plain'] <= PLAIN_TARGET
    return 'yes' if fast else 'NO'


def layer_table(results: Sequence[LayerLatency], forms: Sequence[str],
                device: torch.device, dtype: torch.dtype) -> str:
    """The layers' times as a Markdown table: ms per form (and host us on
    CUDA), the device's form over the plain formula and over ReLU, the
    target, the first call of the :func:`main_form`, and whether the target
    is met."""
    cuda = device.type == 'cuda'
    target = target_form(device)
    main = main_form(forms, device)
    header = ['layer'] + form_columns(forms, cuda) + [
        f'{target} / plain', f'{target} / relu', 'target',
        f'first call s ({main or "-"})', 'met'
    ]
    target_cell = (f'<= {PLAIN_TARGET}x plain'
                   if has_target(device, dtype) else '- (CPU fp32 only)')
    lines = ['| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
    for r in results:
        first = r.first_calls.get(main)
        row = [r.name] + form_cells(r, forms, cuda) + [
            ratio_text(r, target, 'plain'),
            ratio_text(r, target, 'relu'),
            'reference only'
            if ACTIVATIONS[r.name].spec.reference_only else target_cell,
            '-' if first is None else f'{first:.2f}',
            layer_verdict(r, device, dtype),
        ]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def layer_report(result: LayerLatency, device: torch.device,
                 dtype: torch.dtype) -> dict:
    """``result`` for JSON: ms per form, ratios, the verdict."""
    target = target_form(device)
    ratios = {
        f'{target}/{reference}': result.times[target] / result.times[reference]
        for reference in ('plain', 'relu')
        if target in result.times and reference in result.times
    }
    return dict(
        layer=result.name,
        ms={
            form: 1e3 * value
            for form, value in result.times.items()
        },
        host_us={
            form: 1e6 * value
            for form, value in result.host_times.items()
        },
        first_call_s=result.first_calls,
        ratios=ratios,
        met=layer_verdict(result, device, dtype))


def _has_activations(model: nn.Module) -> bool:
    """Whether ``model`` has mmdynact activation layers."""
    return any(isinstance(m, ChannelActivation) for m in model.modules())


def _model_calls(cfg: Config, batch: int, shape: Tuple[int, int],
                 device: torch.device) -> Dict[str, Callable[[], object]]:
    """The variants of ``cfg``'s model (see the module docstring) as calls
    on one normalised synthetic batch."""
    model = model_to_run(cfg, shape, device).eval()
    inputs = model.data_preprocessor(
        synthetic_batch(cfg, batch, shape), training=False)['inputs']
    forward = TensorForward(model)
    calls = {'model': lambda: forward(inputs)}
    if _has_activations(model):
        twin = TensorForward(relu_twin(model))

        def formula() -> object:
            with formulas():
                return forward(inputs)

        calls['formula'] = formula
        calls['relu twin'] = lambda: twin(inputs)
    return calls


def benchmark_models(
        configs: Dict[str, Config],
        batch: int,
        device: torch.device,
        dtype: torch.dtype,
        warmup: int,
        repeats: int,
        shape: Optional[Tuple[int, int]] = None) -> List[ModelLatency]:
    """Time the models of ``configs`` (name -> config), in order, at
    ``batch`` images of ``shape = (H, W)`` (default: the toolbox's usual
    size); all models are built first, and every round runs all variants
    of all models in turn."""
    calls: Dict[Hashable, Callable[[], object]] = {}
    for name, cfg in configs.items():
        size = tuple(shape or DEFAULT_SHAPES[cfg.get('default_scope')])
        for variant, call in _model_calls(cfg, batch, size, device).items():
            calls[name, variant] = call
    with torch.inference_mode(), autocast_for(dtype, device):
        first = first_calls(calls, device)
        walls, _ = best_times(calls, device, warmup, repeats)
    return [
        ModelLatency(
            name, {
                variant: walls[name, variant]
                for variant in MODEL_VARIANTS if (name, variant) in walls
            }, first[name, 'model']) for name in configs
    ]


def _model_ratio(result: ModelLatency, reference: str) -> Optional[float]:
    if reference not in result.times:
        return None
    return result.times['model'] / result.times[reference]


def model_table(results: Sequence[ModelLatency],
                baseline: Optional[str] = None) -> str:
    """The models' times as a Markdown table: ms per variant, the model
    over the formula variant and over the ReLU twin, its first call, and
    (with a ``baseline`` config) its time over the baseline's."""
    header = ['config'] + [f'{variant} ms' for variant in MODEL_VARIANTS] + [
        'model / formula', 'model / relu twin', 'first call s'
    ] + (['vs baseline'] if baseline else [])
    lines = ['| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
    base = next((r for r in results if r.config == baseline), None)
    for r in results:
        row = [r.config] + [
            milliseconds(r.times[variant]) if variant in r.times else '-'
            for variant in MODEL_VARIANTS
        ]
        for reference in ('formula', 'relu twin'):
            ratio = _model_ratio(r, reference)
            row.append('-' if ratio is None else f'{ratio:.2f}x')
        row.append(f'{r.first_call:.2f}')
        if base is not None:
            row.append('baseline' if r is base else
                       f'{r.times["model"] / base.times["model"]:.2f}x')
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def model_report(result: ModelLatency,
                 baseline: Optional[ModelLatency] = None) -> dict:
    """``result`` for JSON: ms per variant and the ratios."""
    report = dict(
        config=result.config,
        ms={
            variant: 1e3 * value
            for variant, value in result.times.items()
        },
        first_call_s=result.first_call,
        model_over_formula=_model_ratio(result, 'formula'),
        model_over_relu_twin=_model_ratio(result, 'relu twin'))
    if baseline is not None:
        report['vs_baseline'] = (
            result.times['model'] / baseline.times['model'])
    return report
