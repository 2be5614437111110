"""``tools/analysis_tools/benchmark_train_step.py``: full training steps of
configs' models against a baseline, as a table and as JSON."""
import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.hub import get_config

import mmdynact  # noqa: F401 (registers the layers)
from mmdynact.analysis.train_step_benchmark import AMP_DTYPES, benchmark, table
from .common import add_cfg_options, add_input_size
from .toolbox import toolbox_of


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time full training steps (forward, backward, optimizer '
        'step) of configs\' models against a baseline config.')
    parser.add_argument(
        'configs',
        nargs='+',
        help='config files, or upstream configs as '
        'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py')
    parser.add_argument(
        '--baseline',
        required=True,
        help='config the others are compared with (timed '
        'too; e.g. the same model with ReLU)')
    parser.add_argument(
        '--batch',
        type=int,
        default=32,
        help='images per step (default: 32, the configs\' '
        'batch per GPU)')
    parser.add_argument(
        '--iters',
        type=int,
        default=20,
        help='timed steps per config (default: 20)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=5,
        help='untimed steps first (default: 5)')
    parser.add_argument(
        '--amp',
        choices=list(AMP_DTYPES),
        default='bf16',
        help='automatic mixed precision (default: bf16)')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--json', help='also write the results here')
    add_input_size(parser)
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    for name in ('batch', 'iters'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1')
    return args


def load(path: str, options: Optional[dict]) -> Config:
    """A config file, or an upstream one (``mmpretrain::mobilenet_v2/...``)."""
    cfg = get_config(path) if '::' in path else Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    toolbox_of(cfg)  # a supported toolbox, installed
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    paths = [args.baseline] + [p for p in args.configs if p != args.baseline]
    configs = {path: load(path, args.cfg_options) for path in paths}
    scopes = {cfg.default_scope for cfg in configs.values()}
    if len(scopes) > 1:
        raise ValueError(f'the configs belong to several toolboxes '
                         f'({", ".join(sorted(scopes))}); compare configs of '
                         f'one toolbox per run')
    device = torch.device(args.device)
    timings = benchmark(configs, args.batch, args.iters, args.warmup, device,
                        args.amp, args.shape)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == 'cuda' else f'cpu ({torch.get_num_threads()} '
        f'threads)')
    print(f'training steps on {name}, batch {args.batch}, amp {args.amp}, '
          f'torch {torch.__version__}, mmdynact backend '
          f'{mmdynact.ops.get_backend()}; medians of {args.iters} steps '
          f'after {args.warmup}\n')
    print(table(timings, args.baseline))
    if args.json:
        base = timings[0].step_ms
        Path(args.json).write_text(
            json.dumps(
                dict(
                    device=name,
                    batch=args.batch,
                    amp=args.amp,
                    torch=torch.__version__,
                    backend=mmdynact.ops.get_backend(),
                    baseline=args.baseline,
                    timings=[
                        dict(t._asdict(), vs_baseline=t.step_ms / base)
                        for t in timings
                    ]),
                indent=2))
