"""``tools/model_converters/*.py``: convert an official checkpoint.

Each tool takes ``SRC DST``, converts, checks the result key by key against
the backbone it is for, saves it and prints the backbone config to use.
"""
import argparse
from typing import Optional, Sequence

from mmdynact.converters import (convert_acon_resnet,
                                 convert_acon_shufflenet_v2, convert_file)
from mmdynact.converters.conversion import Converter


def run(convert: Converter,
        description: str,
        argv: Optional[Sequence[str]] = None) -> None:
    """Command line ``SRC DST`` of the converter ``convert``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='converted checkpoint to write')
    args = parser.parse_args(argv)
    conversion = convert_file(convert, args.src, args.dst)
    print(f'wrote {args.dst}\n{conversion.usage()}')


def acon_resnet(argv: Optional[Sequence[str]] = None) -> None:
    """``tools/model_converters/acon_resnet_to_mmdynact.py``."""
    run(
        convert_acon_resnet,
        'Convert an official ACON-C / Meta-ACON ResNet checkpoint '
        "(nmaac/acon) into an mmpretrain classifier with mmdynact's "
        'ActResNet', argv)


def acon_shufflenet_v2(argv: Optional[Sequence[str]] = None) -> None:
    """``tools/model_converters/acon_shufflenetv2_to_mmpretrain.py``."""
    run(
        convert_acon_shufflenet_v2,
        'Convert an official ACON-C / Meta-ACON ShuffleNetV2 0.5x checkpoint '
        "(nmaac/acon) into an mmpretrain classifier with mmpretrain's "
        'ShuffleNetV2', argv)
