"""A tiny Cityscapes-format segmentation data set: drawn street scenes.

Layout (what mmseg's ``CityscapesDataset`` reads, with its default
suffixes)::

    ROOT/leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
    ROOT/gtFine/{train,val}/<city>/<name>_gtFine_labelTrainIds.png

with ``<name>`` = ``<city>_000000_<frame>``.

Labels are Cityscapes train ids (0..18, 255 = ignore). Each scene has sky,
buildings, sidewalk and road, plus cars, trees and people, painted in their
Cityscapes palette colours with noise.
"""
from pathlib import Path

import numpy as np

from .drawing import background, jitter, save_image, split_rng

ROAD, SIDEWALK, BUILDING, VEGETATION, SKY, PERSON, CAR = 0, 1, 2, 8, 10, 11, 13
#: BGR colours (Cityscapes palette)
COLOURS = {
    ROAD: (128, 64, 128),
    SIDEWALK: (232, 35, 244),
    BUILDING: (70, 70, 70),
    VEGETATION: (35, 142, 107),
    SKY: (180, 130, 70),
    PERSON: (60, 20, 220),
    CAR: (142, 0, 0)
}
CITIES = {'train': 'tinyburg', 'val': 'tinyheim'}


def _paint(image: np.ndarray, label: np.ndarray, rng: np.random.Generator,
           region: tuple, train_id: int) -> None:
    """Paint the box ``region`` = (y0, y1, x0, x1) as class ``train_id``."""
    y0, y1, x0, x1 = (int(v) for v in region)
    image[y0:y1, x0:x1] = jitter(rng, COLOURS[train_id], 15)
    label[y0:y1, x0:x1] = train_id


def _scene(rng: np.random.Generator, height: int, width: int) -> tuple:
    image = background(rng, height, width, colour=COLOURS[ROAD])
    label = np.full((height, width), ROAD, np.uint8)
    horizon = int(height * rng.uniform(0.35, 0.5))
    kerb = horizon + int(height * rng.uniform(0.08, 0.15))
    _paint(image, label, rng, (0, horizon, 0, width), SKY)
    _paint(image, label, rng, (horizon, kerb, 0, width), SIDEWALK)
    x = 0
    while x < width:  # a row of houses of random widths and heights
        house = int(width * rng.uniform(0.1, 0.25))
        top = int(horizon * rng.uniform(0.2, 0.8))
        _paint(image, label, rng, (top, horizon, x, x + house), BUILDING)
        x += house + int(width * rng.uniform(0.0, 0.08))
    for _ in range(int(rng.integers(1, 3))):  # trees on the sidewalk
        cx = rng.uniform(0, width)
        r = height * rng.uniform(0.06, 0.12)
        _paint(image, label, rng, (horizon - 2 * r, kerb, cx - r, cx + r),
               VEGETATION)
    for _ in range(int(rng.integers(0, 3))):  # people on the sidewalk
        cx = rng.uniform(0, width)
        h = height * rng.uniform(0.12, 0.2)
        _paint(image, label, rng, (kerb - h, kerb, cx, cx + h / 3), PERSON)
    for _ in range(int(rng.integers(1, 4))):  # cars on the road
        w = width * rng.uniform(0.12, 0.25)
        cx = rng.uniform(0, width - w)
        bottom = rng.uniform(kerb + 0.15 * height, height)
        _paint(image, label, rng, (bottom - w / 2.2, bottom, cx, cx + w), CAR)
    return image, label


def write_cityscapes(root: Path,
                     num_train: int = 32,
                     num_val: int = 8,
                     height: int = 64,
                     width: int = 128,
                     seed: int = 0) -> None:
    """Write the data set under ``root`` (see the module docstring)."""
    for split, count in (('train', num_train), ('val', num_val)):
        rng = split_rng(seed, split)
        city = CITIES[split]
        for frame in range(count):
            stem = f'{city}_000000_{frame:06d}'
            image, label = _scene(rng, height, width)
            save_image(
                root / 'leftImg8bit' / split / city /
                f'{stem}_leftImg8bit.png', image)
            save_image(
                root / 'gtFine' / split / city /
                f'{stem}_gtFine_labelTrainIds.png', label)
