"""``tools/deployment/pytorch2onnx.py``: a trained model as an ONNX file.

The graph is the model's ``mode='tensor'`` forward, as mmdeploy's simplest
flow exports it: the normalized image batch in, the raw network outputs out
(a detector's per-level class scores and box regressions, a segmentor's
logits at the decode head's resolution, a classifier's scores before
softmax, a pose model's heatmaps). Pre- and post-processing (resizing,
normalization, box decoding and NMS, upsampling, arg-max, heatmap decoding)
stay in Python, in the toolbox. ``--verify`` runs the file with onnxruntime
and compares with the PyTorch model.
"""
import argparse
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config
from torch import Tensor, nn

from mmdynact.analysis import DEFAULT_SHAPES, TensorForward
from mmdynact.analysis.learned_activations.model_inputs import (image_batches,
                                                                load_model)
from mmdynact.deployment import (DEFAULT_OPSETS, DEFAULT_RTOL, Difference,
                                 compare_with_onnxruntime, export_onnx,
                                 float32_rounding, random_batch, second_shape)
from mmdynact.ops import BACKENDS, use_backend
from .common import add_cfg_options, add_input_size
from .toolbox import load_toolbox_config


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The options of ``tools/deployment/pytorch2onnx.py``."""
    parser = argparse.ArgumentParser(
        description='Export a trained model of any of the toolboxes to ONNX '
        '(raw network outputs; post-processing stays in Python)')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint',
        help='trained checkpoint (trusted: it is unpickled '
        'in full)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    add_input_size(parser)
    parser.add_argument(
        '--dynamic',
        action='store_true',
        help='dynamic batch size, height and width (default: the sizes of '
        'the example input)')
    parser.add_argument(
        '--opset',
        type=int,
        help=f'ONNX opset (default: {DEFAULT_OPSETS[False]}; '
        f'{DEFAULT_OPSETS[True]} with --dynamo)')
    parser.add_argument(
        '--dynamo',
        action='store_true',
        help='use the torch.export-based exporter (needs onnxscript) '
        'instead of the TorchScript-based one')
    parser.add_argument(
        '--verify',
        action='store_true',
        help='run the file with onnxruntime and compare with PyTorch (with '
        '--dynamic also on a second input size); exit 1 beyond --rtol')
    parser.add_argument(
        '--input',
        help='an image to export and verify with, resized to --shape and '
        "normalized by the model's data preprocessor (default: a seeded "
        'random batch of one)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the random inputs')
    parser.add_argument(
        '--rtol',
        type=float,
        default=DEFAULT_RTOL,
        help='largest relative difference --verify accepts: max |onnx - '
        'torch| / max |torch|, per output')
    parser.add_argument(
        '--backend',
        default='eager',
        choices=BACKENDS,
        help='mmdynact kernels of the PyTorch model that --verify compares '
        'with (eager: no compile time)')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    if not args.out.endswith('.onnx'):
        parser.error(f'--out {args.out}: give a .onnx file')
    return args


def example_input(model: nn.Module, cfg: Config,
                  args: argparse.Namespace) -> Tensor:
    """``--input`` through the model's data preprocessor, or a seeded random
    batch of one of ``--shape`` (default: the toolbox's usual size)."""
    shape = args.shape or DEFAULT_SHAPES[cfg.default_scope]
    if args.input is None:
        return random_batch((1, 3, *shape), args.seed)
    batch = next(image_batches([args.input], tuple(shape)))
    with torch.no_grad():
        return model.data_preprocessor(batch, False)['inputs']


def verification_batches(inputs: Tensor,
                         args: argparse.Namespace) -> List[Tensor]:
    """``inputs`` and, with ``--dynamic``, a random batch of
    :func:`second_shape`."""
    batches = [inputs]
    if args.dynamic:
        batches.append(random_batch(second_shape(inputs.shape), args.seed + 1))
    return batches


def main(argv: Optional[Sequence[str]] = None) -> List[Difference]:
    """Export (and verify) as the tool does; the differences measured."""
    args = parse_args(argv)
    cfg, _ = load_toolbox_config(args.config, args.cfg_options)
    model = load_model(cfg, args.checkpoint)
    module = TensorForward(model).eval()
    inputs = example_input(model, cfg, args)
    exporter = 'dynamo' if args.dynamo else 'TorchScript'
    names = export_onnx(module, inputs, args.out, args.dynamic, args.opset,
                        args.dynamo)
    print(f'wrote {args.out} ({exporter} exporter, example input '
          f'{tuple(inputs.shape)}{", dynamic N, H, W" if args.dynamic else ""}'
          f', outputs {", ".join(names)})')
    if not args.verify:
        return []
    batches = verification_batches(inputs, args)
    with use_backend(args.backend):
        differences = [
            compare_with_onnxruntime(module, args.out, batch)
            for batch in batches
        ]
        for difference in differences:
            print(f'onnxruntime vs PyTorch, {difference}')
        worst = max(range(len(batches)), key=lambda i: differences[i].max_rel)
        if differences[worst].max_rel > args.rtol:
            rounding = float32_rounding(module, batches[worst])
            raise SystemExit(
                f'{args.out}: relative difference '
                f'{differences[worst].max_rel:.3g} exceeds --rtol '
                f'{args.rtol:g}. For comparison, PyTorch float32 against '
                f'float64, {rounding}; where that is of the same order, the '
                f'model itself amplifies float32 rounding on this input (no '
                f'two float32 runtimes agree better), otherwise the export '
                f'differs from the model')
    print(f'verified: within --rtol {args.rtol:g}')
    return differences
