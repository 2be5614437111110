"""``tools/analysis_tools/benchmark_activations.py``: each activation layer
in the chosen forms (its kernels in Triton, compiled or eager, its plain
formula) and ReLU (see :mod:`mmdynact.analysis.activation_benchmark`)."""
import argparse
from typing import List, Optional, Sequence

import torch

from mmdynact.analysis.activation_benchmark import (DTYPES, FORMS, benchmark,
                                                    check_forms, check_triton,
                                                    default_forms, main_form,
                                                    table, target_form)
from mmdynact.models.activations import ACTIVATIONS
from .compile_caches import add_warm_cache, use_compile_caches


def form_list(text: str) -> List[str]:
    """``--forms triton,eager`` -> ``['triton', 'eager']``."""
    return [form.strip() for form in text.split(',') if form.strip()]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time and memory of mmdynact\'s activation layers '
        '(forward + backward, training mode) in several forms: their '
        'kernels (Triton, compiled, eager), their plain formulas and ReLU.')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--forms',
        type=form_list,
        metavar='FORM[,FORM...]',
        help=f'forms to time, from {",".join(FORMS)}: triton, compiled '
        '(inductor) and eager run the layer\'s kernels, plain its formula, '
        'relu is nn.ReLU; leaving compiled out skips inductor\'s compile '
        'time (default: all on CUDA, all but triton elsewhere)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=4,
        metavar=('N', 'C', 'H', 'W'),
        help='input size (default: 16 64 56 56 on CPU, '
        '64 256 56 56 on CUDA)')
    parser.add_argument(
        '--dtype',
        choices=list(DTYPES),
        default='fp32',
        help='input dtype; bf16/fp16 run under autocast, '
        'parameters in float32 (default: fp32)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument(
        '--layers',
        nargs='+',
        choices=list(ACTIVATIONS),
        help='layer names (default: all)')
    parser.add_argument(
        '--no-mixed-use',
        action='store_true',
        help='skip running each layer in float64, float32 '
        'train/eval, bf16 autocast, channels-last and odd '
        'sizes before timing it')
    add_warm_cache(parser)
    args = parser.parse_args(argv)
    try:
        args.forms = check_forms(
            args.forms or default_forms(torch.device(args.device)))
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    use_compile_caches(args.warm_cache)
    device = torch.device(args.device)
    forms = args.forms
    if 'triton' in forms:
        try:
            check_triton(device)
        except ValueError as error:
            raise SystemExit(f'benchmark_activations.py: error: {error}')
    shape = args.shape or ([64, 256, 56, 56]
                           if device.type == 'cuda' else [16, 64, 56, 56])
    where = (
        torch.cuda.get_device_name(device) if device.type == 'cuda' else
        f'cpu (threads: {torch.get_num_threads()})')
    autocast = ' under autocast' if args.dtype != 'fp32' else ''
    main = main_form(forms, device)
    mixed = ('' if args.no_mixed_use or main is None else
             f'; each layer used in mixed ways first ({main} form)')
    print(f'forward + backward, training mode, input {tuple(shape)} '
          f'{args.dtype}{autocast} on {where}, torch {torch.__version__}; '
          f'forms {",".join(forms)}; medians of {args.repeats} after '
          f'{args.warmup} warm-up rounds; compile caches '
          f'{"warm" if args.warm_cache else "empty"} at start{mixed}')
    print(f'targets for the {target_form(device)} form; memory and first '
          f'call in the {main or "(no kernel form timed)"} form'
          f'{"" if device.type == "cuda" else "; times are host times"}\n')
    results = benchmark(shape, DTYPES[args.dtype], device, args.warmup,
                        args.repeats, not args.no_mixed_use, args.layers,
                        forms)
    print(table(results, forms, device))
