"""A tiny ImageNet-format classification data set: coloured shapes.

Layout (what mmpretrain's ``ImageNet`` data set reads with ``split=``)::

    ROOT/train/<wnid>/<wnid>_<n>.JPEG     ROOT/meta/train.txt  ("path label")
    ROOT/val/ILSVRC2012_val_<n>.JPEG      ROOT/meta/val.txt

Class ``k`` is a shape (circle, square, triangle, pentagon, hexagon) in a
colour of its own on a noisy background, at a random place and size; labels
are ``0..NUM_CLASSES-1``.
"""
from pathlib import Path
from typing import List

import numpy as np

from .drawing import (background, fill_polygon, jitter, regular_polygon,
                      save_image, split_rng)

NUM_CLASSES = 10
#: BGR colours, one per class
COLOURS = ((40, 40, 220), (60, 200, 60), (220, 120, 30), (30, 200, 230),
           (200, 40, 200), (230, 230, 40), (20, 110, 180), (250, 250, 250),
           (20, 20, 20), (150, 200, 120))
CORNERS = (24, 4, 3, 5, 6)
#: synthetic WordNet-style folder names
WNIDS = tuple(f'n{k:08d}' for k in range(NUM_CLASSES))


def _image(rng: np.random.Generator, size: int, label: int) -> np.ndarray:
    image = background(rng, size, size, noise=30)
    radius = rng.uniform(0.2, 0.4) * size
    cx, cy = rng.uniform(radius, size - radius, size=2)
    points = regular_polygon(cx, cy, radius, CORNERS[label % len(CORNERS)],
                             rng.uniform(0, np.pi))
    fill_polygon(image, points, jitter(rng, COLOURS[label]))
    return image


def write_imagenet(root: Path,
                   per_class_train: int = 8,
                   per_class_val: int = 4,
                   size: int = 64,
                   seed: int = 0) -> None:
    """Write the data set under ``root`` (see the module docstring)."""
    for split, per_class in (('train', per_class_train), ('val',
                                                          per_class_val)):
        rng = split_rng(seed, split)
        lines: List[str] = []
        for n in range(per_class * NUM_CLASSES):
            label = n % NUM_CLASSES
            if split == 'train':
                name = f'{WNIDS[label]}/{WNIDS[label]}_{n:d}.JPEG'
            else:
                name = f'ILSVRC2012_val_{n + 1:08d}.JPEG'
            save_image(root / split / name, _image(rng, size, label))
            lines.append(f'{name} {label}')
        meta = root / 'meta' / f'{split}.txt'
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text('\n'.join(lines) + '\n')
