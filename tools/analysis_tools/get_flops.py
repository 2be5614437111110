"""Parameters and FLOPs of a config's model, and the overhead vs ReLU.

Counts mmdynact's activation layers (see mmdynact.analysis.complexity) and
compares with the same model whose mmdynact activations are ReLU::

    python tools/analysis_tools/get_flops.py \
        configs/frelu/resnet50_frelu_8xb32_in1k.py --shape 224 224
"""
import argparse

from mmengine.config import Config, DictAction

from mmdynact.analysis import (complexity, model_for_analysis, summary,
                               unhandled_python_ops)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input size (default: the toolbox\'s usual test size)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, as in tools/train.py')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model, inputs = model_for_analysis(cfg, args.shape)
    unhandled = unhandled_python_ops(model, inputs)
    if unhandled:
        raise RuntimeError(
            f'no FLOP handle for {unhandled}: add one to '
            'mmdynact.analysis.complexity.ACTIVATION_FLOP_HANDLES')
    shape = tuple(inputs[0].shape)
    print(f'{args.config}\ninput {shape}')
    for key, value in summary(complexity(model, inputs)).items():
        print(f'{key:>16}: {value}')


if __name__ == '__main__':
    main()
