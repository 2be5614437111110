"""``tools/analysis_tools/get_flops.py``: parameters and FLOPs of a config.

Counts mmdynact's activation layers (see :mod:`mmdynact.analysis.complexity`)
and compares with the same model whose mmdynact activations are ReLU.
"""
import argparse
from typing import Optional, Sequence

from mmdynact.analysis import (complexity, model_for_analysis, summary,
                               unhandled_python_ops)
from .common import add_cfg_options, add_input_size
from .toolbox import load_toolbox_config


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The options of ``tools/analysis_tools/get_flops.py``."""
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of a config\'s model, and the '
        'overhead of its mmdynact activations over ReLU')
    parser.add_argument('config', help='config file')
    add_input_size(parser)
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Print the counts as ``tools/analysis_tools/get_flops.py`` does."""
    args = parse_args(argv)
    cfg, _ = load_toolbox_config(args.config, args.cfg_options)
    model, inputs = model_for_analysis(cfg, args.shape)
    unhandled = unhandled_python_ops(model, inputs)
    if unhandled:
        raise RuntimeError(
            f'no FLOP handle for {unhandled}: declare each kernel in its '
            "layer's ActivationSpec(kernels=...), with a count_flops")
    shape = tuple(inputs[0].shape)
    print(f'{args.config}\ninput {shape}')
    for key, value in summary(complexity(model, inputs)).items():
        print(f'{key:>16}: {value}')
