"""Write the tiny data sets the ``configs/_tiny_`` configs train on.

    python tools/dataset_converters/make_tiny_datasets.py [ROOT]
        [--only coco cityscapes ...] [--seed 0]

ROOT defaults to ``data/tiny`` (where the tiny configs look, relative to the
folder you run the tools from). Writes ``ROOT/coco`` (COCO detection),
``ROOT/coco_keypoints`` (COCO keypoints), ``ROOT/cityscapes`` and
``ROOT/imagenet``, in a few seconds, the same files for the same seed.
"""
import argparse

from mmdynact.tiny_datasets import WRITERS, write_tiny_datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', nargs='?', default='data/tiny')
    parser.add_argument('--only', nargs='+', choices=list(WRITERS),
                        default=list(WRITERS), help='data sets to write')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    write_tiny_datasets(args.root, args.only, args.seed)
    print(f'tiny data sets written to {args.root}: {", ".join(args.only)}')


if __name__ == '__main__':
    main()
