"""Time full training steps of configs' models, side by side.

A step is what mmengine's ``Runner`` does per iteration:
``model.train_step(batch, optim_wrapper)``: data preprocessing, forward
with losses, backward, optimizer step, zeroed gradients; with automatic
mixed precision through mmengine's ``AmpOptimWrapper`` on CUDA (autocast
around the step on CPU). The batch is synthetic
(:mod:`.synthetic_batch`) at the model's input size, the same for every
config of a toolbox, and the configs' rounds alternate so machine noise hits
all of them alike.
"""
import copy
import statistics
import time
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from torch import nn

from .from_config import DEFAULT_SHAPES, model_to_run
from .synthetic_batch import synthetic_batch
from .timing import synchronize

AMP_DTYPES = dict(bf16=torch.bfloat16, fp16=torch.float16, none=None)


class StepTiming(NamedTuple):
    """Median step time of one config, and what it needs."""
    config: str
    #: wall time of a synchronised step
    step_ms: float
    #: time until the host has issued the whole step (CUDA runs it
    #: asynchronously; a host time close to the step time means the GPU
    #: waits for Python)
    host_ms: float
    images_per_s: float
    #: peak memory of a step (CUDA only): the model's parameters and
    #: optimizer state, and the most the step allocated on top
    peak_memory_gib: Optional[float]


def _resident_bytes(model: nn.Module, optimizer) -> int:
    """Bytes of the parameters and the optimizer state (momenta...)."""
    tensors = list(model.parameters()) + [
        value for state in optimizer.state.values()
        for value in state.values() if isinstance(value, torch.Tensor)
    ]
    return sum(t.numel() * t.element_size() for t in tensors)


class TrainStep:
    """One config's model, optimizer and batch, ready to step.

    Args:
        cfg: The config.
        batch: Images per step.
        shape: Input ``(H, W)``; by default the toolbox's usual size.
        device: Where to train.
        amp: ``'bf16'``, ``'fp16'`` or ``'none'``.
    """

    def __init__(self, cfg: Config, batch: int, shape: Optional[Tuple[int,
                                                                      int]],
                 device: torch.device, amp: str) -> None:
        scope = cfg.get('default_scope')
        shape = tuple(shape or DEFAULT_SHAPES[scope])
        self.model = model_to_run(cfg, shape, device).train()
        self.device = device
        self.amp = AMP_DTYPES[amp]
        optim_cfg = copy.deepcopy(cfg.optim_wrapper)
        if self.amp is not None and device.type == 'cuda':
            optim_cfg.type = 'AmpOptimWrapper'
            optim_cfg.dtype = str(self.amp).split('.')[-1]
        with DefaultScope.overwrite_default_scope(scope):
            self.optim_wrapper = build_optim_wrapper(self.model, optim_cfg)
        self.batch = synthetic_batch(cfg, batch, shape)
        self.images = batch

    def __call__(self) -> float:
        """Run one step; return the host time it took to issue it."""
        start = time.perf_counter()
        if self.amp is not None and self.device.type != 'cuda':
            with torch.autocast(self.device.type, dtype=self.amp):
                self.model.train_step(self.batch, self.optim_wrapper)
        else:
            self.model.train_step(self.batch, self.optim_wrapper)
        return time.perf_counter() - start


def benchmark(configs: Dict[str, Config],
              batch: int,
              iters: int,
              warmup: int,
              device: torch.device,
              amp: str,
              shape: Optional[Tuple[int, int]] = None) -> List[StepTiming]:
    """Median step timings of ``configs`` (name -> config), in order.

    All models are built first; then ``warmup`` rounds and ``iters`` timed
    rounds, each stepping every model once in turn.
    """
    steps = {
        name: TrainStep(cfg, batch, shape, device, amp)
        for name, cfg in configs.items()
    }
    walls: Dict[str, List[float]] = {name: [] for name in steps}
    hosts: Dict[str, List[float]] = {name: [] for name in steps}
    peaks: Dict[str, int] = {}
    for round_ in range(warmup + iters):
        for name, step in steps.items():
            synchronize(device)
            if device.type == 'cuda':
                torch.cuda.reset_peak_memory_stats(device)
                before = torch.cuda.memory_allocated(device)
            start = time.perf_counter()
            host = step()
            synchronize(device)
            if round_ >= warmup:
                walls[name].append(time.perf_counter() - start)
                hosts[name].append(host)
            if device.type == 'cuda':
                peaks[name] = (
                    torch.cuda.max_memory_allocated(device) - before +
                    _resident_bytes(step.model, step.optim_wrapper.optimizer))
    timings = []
    for name, step in steps.items():
        wall = statistics.median(walls[name])
        peak = peaks.get(name)
        timings.append(
            StepTiming(name, 1e3 * wall, 1e3 * statistics.median(hosts[name]),
                       step.images / wall,
                       None if peak is None else peak / 2**30))
    return timings


def table(timings: Sequence[StepTiming], baseline: str) -> str:
    """The timings as a Markdown table with ratios to ``baseline``."""
    base = next(t for t in timings if t.config == baseline)
    lines = [
        '| config | step ms | host ms | images/s | peak memory GiB '
        '| vs baseline |', '|---|---|---|---|---|---|'
    ]
    for t in timings:
        memory = '-' if t.peak_memory_gib is None else \
            f'{t.peak_memory_gib:.2f}'
        ratio = 'baseline' if t is base else f'{t.step_ms / base.step_ms:.2f}x'
        lines.append(f'| {t.config} | {t.step_ms:.1f} | {t.host_ms:.1f} '
                     f'| {t.images_per_s:.1f} | {memory} | {ratio} |')
    return '\n'.join(lines)
