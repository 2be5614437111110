"""Time and memory of mmdynact's activations vs straightforward PyTorch.

For each layer, forward + backward in training mode on one input shape
(default ``16 x 64 x 56 x 56`` float32), measured side by side in one run:

* mmdynact's layer with the fused (``torch.compile``) kernels and with the
  eager kernels,
* the straightforward implementation of the same formula
  (:mod:`mmdynact.testing.reference`: K-stacked max, written-out sigmoid,
  ``BN`` + ``torch.maximum``),
* ``nn.ReLU``.

Times are medians over ``--repeats`` rounds after ``--warmup`` rounds; within
a round the variants run one after another, so machine noise hits them alike.
Memory is the bytes of every distinct tensor autograd keeps for backward,
input included, output excluded, relative to the input's size (see
:func:`mmdynact.testing.saved_tensor_bytes`). "first call" is the first
forward + backward of the fused layer in this process, compilation included
(later layers that share a kernel find it compiled); inductor's on-disk
cache starts empty unless ``--warm-cache`` is given, so this is the cost of a
first run on a new machine.

Usage::

    python tools/analysis_tools/benchmark_activations.py [--device cuda]
"""
import argparse
import os
import statistics
import tempfile
import time
from typing import Callable, Dict, List

import torch
from torch import Tensor, nn

from mmdynact import ops
from mmdynact.models.activations import (AconA, AconB, AconC, DyReLUA,
                                         DyReLUB, DyReLUC, FReLU, MetaAconC)
from mmdynact.testing import reference_forward, saved_tensor_bytes

# targets of issue #3: (max memory / input, max time / straightforward)
TARGETS = {
    DyReLUA: (1.1, 0.15), DyReLUB: (1.1, 0.15), DyReLUC: (1.1, 0.15),
    AconA: (1.1, 0.6), AconB: (1.1, 0.6), AconC: (1.1, 0.6),
    MetaAconC: (1.1, 0.6), FReLU: (2.0, 1.0),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shape', type=int, nargs=4,
                        default=[16, 64, 56, 56], metavar=('N', 'C', 'H', 'W'))
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--layers', nargs='+', default=None,
                        help='layer names (default: all)')
    parser.add_argument('--warm-cache', action='store_true',
                        help="reuse inductor's on-disk cache of compiled "
                        'kernels (first calls then skip most compilation)')
    return parser.parse_args()


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def step_time(fn: Callable[[Tensor], Tensor], x: Tensor,
              grad: Tensor) -> float:
    """Seconds for one forward + backward of ``fn`` on a fresh leaf."""
    leaf = x.detach().requires_grad_()
    synchronize(x.device)
    start = time.perf_counter()
    fn(leaf).backward(grad)
    synchronize(x.device)
    return time.perf_counter() - start


def run_fused(layer: nn.Module) -> Callable[[Tensor], Tensor]:

    def fn(x: Tensor) -> Tensor:
        with ops.use_backend('compiled'):
            return layer(x)

    return fn


def run_eager(layer: nn.Module) -> Callable[[Tensor], Tensor]:

    def fn(x: Tensor) -> Tensor:
        with ops.use_backend('eager'):
            return layer(x)

    return fn


def measure(cls, args, x: Tensor, grad: Tensor) -> Dict[str, float]:
    layer = cls(x.shape[1]).to(x.device).train()
    variants = {
        'fused': run_fused(layer),
        'eager': run_eager(layer),
        'straight': lambda t: reference_forward(layer, t),
        'relu': nn.ReLU(),
    }
    first_call = step_time(variants['fused'], x, grad)
    times: Dict[str, List[float]] = {name: [] for name in variants}
    for round_ in range(args.warmup + args.repeats):
        for name, fn in variants.items():
            seconds = step_time(fn, x, grad)
            if round_ >= args.warmup:
                times[name].append(seconds)
    result = {name: statistics.median(t) for name, t in times.items()}
    result['first_call'] = first_call
    for name in ('fused', 'straight'):
        saved, _ = saved_tensor_bytes(variants[name],
                                      x.detach().requires_grad_())
        result[f'{name}_memory'] = saved / x.nbytes
    return result


def main() -> None:
    args = parse_args()
    if not args.warm_cache:
        os.environ['TORCHINDUCTOR_CACHE_DIR'] = tempfile.mkdtemp(
            prefix='mmdynact-benchmark-')
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.randn(args.shape, device=device)
    grad = torch.randn_like(x)
    layers = [cls for cls in TARGETS
              if args.layers is None or cls.__name__ in args.layers]
    threads = torch.get_num_threads() if device.type == 'cpu' else '-'
    cache = 'warm' if args.warm_cache else 'empty'
    print(f'forward + backward, training mode, input {tuple(x.shape)} '
          f'float32 on {device} (threads: {threads}); medians of '
          f'{args.repeats} after {args.warmup} warm-up rounds; compile '
          f'cache {cache} at start\n')
    header = ('| layer | fused ms | eager ms | straightforward ms | ReLU ms '
              '| time vs straightforward (target) | time vs ReLU '
              '| memory / input (target) | straightforward memory '
              '| first call s | met |')
    print(header)
    print('|' + '---|' * header.count(' | ') + '---|')
    for cls in layers:
        r = measure(cls, args, x, grad)
        memory_target, time_target = TARGETS[cls]
        ratio = r['fused'] / r['straight']
        met = (round(r['fused_memory'], 2) <= memory_target
               and ratio <= time_target)
        print(f'| {cls.__name__} | {r["fused"] * 1e3:.1f} '
              f'| {r["eager"] * 1e3:.1f} | {r["straight"] * 1e3:.1f} '
              f'| {r["relu"] * 1e3:.1f} | {ratio:.2f}x (<= {time_target}x) '
              f'| {r["fused"] / r["relu"]:.1f}x '
              f'| {r["fused_memory"]:.2f}x (<= {memory_target}x) '
              f'| {r["straight_memory"]:.2f}x | {r["first_call"]:.1f} '
              f'| {"yes" if met else "NO"} |')


if __name__ == '__main__':
    main()
