"""``tools/analysis_tools/plot_activations.py``: what the layers learned.

Runs a trained model on a few images and plots, per layer family, the curves
and spreads :func:`mmdynact.analysis.learned_activations.plot_activations`
draws.
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

from mmdynact.analysis.learned_activations import plot_activations
from mmdynact.ops import BACKENDS
from .common import add_cfg_options
from .toolbox import load_toolbox_config


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The options of ``tools/analysis_tools/plot_activations.py``."""
    parser = argparse.ArgumentParser(
        description='Plot what the DY-ReLU / ACON / FReLU layers of a '
        'trained model learned')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        'checkpoint',
        help='trained checkpoint (trusted: '
        'it is unpickled in full)')
    parser.add_argument(
        '--images',
        nargs='+',
        help='image files to run '
        'on instead of the test data set')
    parser.add_argument(
        '--num-images',
        type=int,
        default=4,
        help='test data set images to run on')
    parser.add_argument(
        '--image-size',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='resize --images to this')
    parser.add_argument(
        '--layers',
        help='only layers whose name matches '
        "this regular expression, e.g. 'layer[12]\\.'")
    parser.add_argument('--out-dir', help='output folder')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--backend',
        default='eager',
        choices=BACKENDS,
        help='mmdynact kernels (eager: no compile time)')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Plot as ``tools/analysis_tools/plot_activations.py`` does."""
    args = parse_args(argv)
    load_toolbox_config(args.config, args.cfg_options)  # clear import errors
    out_dir = args.out_dir or osp.join(
        'work_dirs', 'activations',
        osp.splitext(osp.basename(args.config))[0])
    written = plot_activations(
        args.config,
        args.checkpoint,
        out_dir,
        images=args.images,
        num_images=args.num_images,
        image_size=args.image_size,
        device=args.device,
        backend=args.backend,
        layers=args.layers,
        cfg_options=args.cfg_options)
    with open(osp.join(out_dir, 'summary.txt')) as f:
        print(f.read())
    print('wrote', ', '.join(str(path) for path in written))
