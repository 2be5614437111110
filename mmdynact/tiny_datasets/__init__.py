"""Tiny data sets in the real formats of COCO, Cityscapes and ImageNet.

They are drawn (shapes, stick figures, street scenes), deterministic for a
seed, small (tens of images of 64-128 pixels) and learnable in a short CPU
run, and the toolboxes' own data sets, pipelines and metrics read them
unchanged. ``tools/dataset_converters/make_tiny_datasets.py`` writes them;
``configs/_tiny_`` trains on them.
"""
from pathlib import Path
from typing import Callable, Dict, Iterable, Union

from .cityscapes import write_cityscapes
from .coco_detection import write_coco_detection
from .coco_keypoints import write_coco_keypoints
from .imagenet import write_imagenet

#: sub-folder of the data root -> writer(root, seed=...)
WRITERS: Dict[str, Callable[..., None]] = {
    'coco': write_coco_detection,
    'coco_keypoints': write_coco_keypoints,
    'cityscapes': write_cityscapes,
    'imagenet': write_imagenet,
}


def write_tiny_datasets(root: Union[str, Path],
                        names: Iterable[str] = tuple(WRITERS),
                        seed: int = 0) -> None:
    """Write the data sets ``names`` to ``root/<name>`` (see ``WRITERS``)."""
    for name in names:
        if name not in WRITERS:
            raise ValueError(f'unknown tiny data set {name!r}; choose from '
                             f'{", ".join(WRITERS)}')
        WRITERS[name](Path(root) / name, seed=seed)


__all__ = [
    'WRITERS', 'write_tiny_datasets', 'write_cityscapes',
    'write_coco_detection', 'write_coco_keypoints', 'write_imagenet'
]
