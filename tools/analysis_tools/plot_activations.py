"""Plot what the DY-ReLU / ACON / FReLU layers of a trained model learned.

    python tools/analysis_tools/plot_activations.py CONFIG CHECKPOINT
        [--images IMG ...] [--num-images 4] [--image-size H W]
        [--layers REGEX] [--out-dir DIR] [--device cpu] [--backend eager]
        [--cfg-options KEY=VALUE ...]

Runs the model on the first images of the config's test data set (through
its test pipeline) or on the given images, and writes into DIR (default
``work_dirs/activations/<config name>``), per layer family present:
``<kind>_curves.png`` (input -> output curves, one subplot per layer),
``<kind>_spread.png`` (DY-ReLU slopes ``a_k``, Meta-ACON / ACON ``beta``,
FReLU's per-channel share of positions where the funnel wins), and
``summary.txt`` / ``summary.json`` with the numbers per layer.
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

from mmdynact.analysis.learned_activations import plot_activations
from mmdynact.ops import BACKENDS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='trained checkpoint (trusted: '
                        'it is unpickled in full)')
    parser.add_argument('--images', nargs='+', help='image files to run '
                        'on instead of the test data set')
    parser.add_argument('--num-images', type=int, default=4,
                        help='test data set images to run on')
    parser.add_argument('--image-size', type=int, nargs=2,
                        metavar=('H', 'W'), help='resize --images to this')
    parser.add_argument('--layers', help='only layers whose name matches '
                        "this regular expression, e.g. 'layer[12]\\.'")
    parser.add_argument('--out-dir', help='output folder')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--backend', default='eager', choices=BACKENDS,
                        help='mmdynact kernels (eager: no compile time)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    out_dir = args.out_dir or osp.join(
        'work_dirs', 'activations',
        osp.splitext(osp.basename(args.config))[0])
    written = plot_activations(
        args.config, args.checkpoint, out_dir, images=args.images,
        num_images=args.num_images, image_size=args.image_size,
        device=args.device, backend=args.backend, layers=args.layers,
        cfg_options=args.cfg_options)
    print(open(osp.join(out_dir, 'summary.txt')).read())
    print('wrote', ', '.join(str(path) for path in written))


if __name__ == '__main__':
    main()
