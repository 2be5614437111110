"""What the converter scripts in ``tools/model_converters`` share."""
import argparse
import os.path as osp
from typing import Callable, Dict, Optional, Sequence

from torch import Tensor

from .conversion import Conversion
from .official_checkpoint import load_official_state_dict

Converter = Callable[[Dict[str, Tensor]], Conversion]


def convert_file(convert: Converter, src: str, dst: str) -> Conversion:
    """Convert the official checkpoint ``src``, check it, save it to ``dst``.

    The check builds the target backbone and compares every key and shape.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'src: {src} is not a file')
    conversion = convert(load_official_state_dict(src))
    conversion.check()
    conversion.save(dst, src)
    return conversion


def main(convert: Converter, description: str,
         argv: Optional[Sequence[str]] = None) -> None:
    """Command line: ``SRC DST``; prints the config to use."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='converted checkpoint to write')
    args = parser.parse_args(argv)
    conversion = convert_file(convert, args.src, args.dst)
    print(f'wrote {args.dst}\n{conversion.usage()}')
