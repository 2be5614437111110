"""``tools/analysis_tools/benchmark_inference.py``: inference latency of
each activation layer against its plain formula and ReLU, and of configs'
models against the same models running the plain formulas and their ReLU
twins (see :mod:`mmdynact.analysis.inference_benchmark`)."""
import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

import torch

import mmdynact  # noqa: F401 (registers the layers)
from mmdynact.analysis import inference_benchmark as inference
from mmdynact.analysis.activation_benchmark import (DTYPES, FORMS, check_forms,
                                                    check_triton, main_form,
                                                    target_form)
from mmdynact.models.activations import ACTIVATIONS
from .benchmark_activations import form_list
from .benchmark_train_step import load
from .common import add_cfg_options, add_input_size
from .compile_caches import add_warm_cache, use_compile_caches

#: the models timed by default: the papers' ResNet-50 ImageNet classifiers
DEFAULT_CONFIGS = (
    'configs/dyrelu/resnet50_dyrelu-b_8xb32_in1k.py',
    'configs/frelu/resnet50_frelu_8xb32_in1k.py',
    'configs/acon/resnet50_acon-c_8xb32_in1k.py',
    'configs/acon/resnet50_meta-acon_8xb32_in1k.py',
)
PARTS = ('layers', 'models')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Inference latency (eval mode, torch.inference_mode(), '
        'forward only) of mmdynact\'s activation layers against their '
        'plain formulas and ReLU, and of whole models against the same '
        'models running the plain formulas and their ReLU twins.')
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument(
        '--parts',
        nargs='+',
        choices=PARTS,
        default=list(PARTS),
        help='what to time (default: both)')
    parser.add_argument(
        '--dtype',
        choices=list(DTYPES),
        default='fp32',
        help='bf16/fp16 run under autocast, parameters in float32 '
        '(default: fp32)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=3,
        help='untimed rounds after the first calls, layers and models '
        '(default: 3)')
    layers = parser.add_argument_group('layers')
    layers.add_argument(
        '--layers',
        nargs='+',
        choices=list(ACTIVATIONS),
        help='layer names (default: every layer with kernels)')
    layers.add_argument(
        '--forms',
        type=form_list,
        metavar='FORM[,FORM...]',
        help=f'forms to time, from {",".join(FORMS)} (as in '
        'benchmark_activations.py; default: the device\'s kernel form, '
        'what the auto backend runs: triton on CUDA, compiled elsewhere, '
        'and plain and relu)')
    layers.add_argument(
        '--shape',
        type=int,
        nargs=4,
        metavar=('N', 'C', 'H', 'W'),
        help='layer input size (default: 8 32 28 28 on CPU, 64 256 56 56 '
        'on CUDA)')
    layers.add_argument(
        '--repeats',
        type=int,
        default=40,
        help='timed rounds per layer, the best counts (default: 40)')
    models = parser.add_argument_group('models')
    models.add_argument(
        '--configs',
        nargs='+',
        default=list(DEFAULT_CONFIGS),
        metavar='CONFIG',
        help='config files, or upstream configs as mmpretrain::... '
        '(default: the four ResNet-50 paper classifiers)')
    models.add_argument(
        '--baseline',
        metavar='CONFIG',
        help='a config the others are also compared with (timed too; '
        'e.g. configs/acon/resnet50_relu_8xb32_in1k.py)')
    models.add_argument(
        '--batch',
        type=int,
        help='images per forward (default: 8 on CPU, 32 on CUDA)')
    add_input_size(models, '--size')
    models.add_argument(
        '--model-repeats',
        type=int,
        default=10,
        help='timed rounds per model, the best counts (default: 10)')
    add_cfg_options(models)
    parser.add_argument('--json', help='also write the results here')
    add_warm_cache(parser)
    args = parser.parse_args(argv)
    for name in ('repeats', 'model_repeats', 'batch'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    device = torch.device(args.device)
    try:
        args.forms = check_forms(args.forms or inference.default_forms(device))
    except ValueError as error:
        parser.error(str(error))
    return args


def _device_name(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    return f'cpu (threads: {torch.get_num_threads()})'


def _layers(args: argparse.Namespace, device: torch.device) -> dict:
    """Time the layers, print their table; their JSON part."""
    shape = args.shape or ([64, 256, 56, 56]
                           if device.type == 'cuda' else [8, 32, 28, 28])
    dtype = DTYPES[args.dtype]
    results = inference.benchmark_layers(shape, dtype, device, args.warmup,
                                         args.repeats, args.layers, args.forms)
    print(f'layers: input {tuple(shape)} {args.dtype}; forms '
          f'{",".join(args.forms)}; best of {args.repeats} rounds after '
          f'{args.warmup} warm-up rounds; first call in the '
          f'{main_form(args.forms, device) or "(no kernel form timed)"} '
          f'form; target for the {target_form(device)} form\n')
    print(inference.layer_table(results, args.forms, device, dtype) + '\n')
    return dict(
        shape=shape,
        forms=args.forms,
        repeats=args.repeats,
        plain_target=inference.PLAIN_TARGET,
        results=[inference.layer_report(r, device, dtype) for r in results])


def _models(args: argparse.Namespace, device: torch.device) -> dict:
    """Time the models, print their table; their JSON part."""
    paths = ([args.baseline] if args.baseline else
             []) + [path for path in args.configs if path != args.baseline]
    configs = {path: load(path, args.cfg_options) for path in paths}
    batch = args.batch or (32 if device.type == 'cuda' else 8)
    size = tuple(args.size) if args.size else None
    results = inference.benchmark_models(configs, batch, device,
                                         DTYPES[args.dtype], args.warmup,
                                         args.model_repeats, size)
    print(f'models: mode=\'tensor\' forward, batch {batch}, input '
          f'{"x".join(map(str, size)) if size else "the toolbox default"}, '
          f'{args.dtype}; best of {args.model_repeats} rounds after '
          f'{args.warmup} warm-up rounds; formula: every activation runs '
          f'its plain formula; relu twin: every activation replaced by '
          f'ReLU\n')
    print(inference.model_table(results, args.baseline) + '\n')
    base = results[0] if args.baseline else None
    return dict(
        batch=batch,
        size=size,
        repeats=args.model_repeats,
        baseline=args.baseline,
        results=[inference.model_report(r, base) for r in results])


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    use_compile_caches(args.warm_cache)
    device = torch.device(args.device)
    if 'triton' in args.forms and 'layers' in args.parts:
        try:
            check_triton(device)
        except ValueError as error:
            raise SystemExit(f'benchmark_inference.py: error: {error}')
    print(f'inference: eval mode, torch.inference_mode(), forward only, on '
          f'{_device_name(device)}, torch {torch.__version__}, mmdynact '
          f'backend {mmdynact.ops.get_backend()}; compile caches '
          f'{"warm" if args.warm_cache else "empty"} at start'
          f'{"" if device.type == "cuda" else "; times are host times"}\n')
    report = dict(
        device=_device_name(device),
        torch=torch.__version__,
        backend=mmdynact.ops.get_backend(),
        dtype=args.dtype,
        warmup=args.warmup)
    if 'layers' in args.parts:
        report['layers'] = _layers(args, device)
    if 'models' in args.parts:
        report['models'] = _models(args, device)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
