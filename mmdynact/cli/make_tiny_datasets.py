"""``tools/dataset_converters/make_tiny_datasets.py``: the tiny data sets."""
import argparse
from typing import Optional, Sequence

from mmdynact.tiny_datasets import WRITERS, write_tiny_datasets


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Write the data sets ``argv`` asks for and say where."""
    parser = argparse.ArgumentParser(
        description='Write the tiny data sets the configs/_tiny_ configs '
        'train on')
    parser.add_argument('root', nargs='?', default='data/tiny')
    parser.add_argument(
        '--only',
        nargs='+',
        choices=list(WRITERS),
        default=list(WRITERS),
        help='data sets to write')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    write_tiny_datasets(args.root, args.only, args.seed)
    print(f'tiny data sets written to {args.root}: {", ".join(args.only)}')
