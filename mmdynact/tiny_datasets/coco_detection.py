"""A tiny COCO-format detection data set: coloured shapes on noise.

Layout (as ``data/coco``, what mmdet's ``CocoDataset`` and ``CocoMetric``
read)::

    ROOT/annotations/instances_{train,val}2017.json
    ROOT/{train,val}2017/000000000001.jpg ...

Three categories, each a shape with its own colour (``CLASSES``); every
instance has a tight box, its polygon as ``segmentation`` and its area.
"""
from pathlib import Path
from typing import List, Optional, Tuple

import cv2
import numpy as np

from .coco_format import write_coco
from .drawing import background, fill_polygon, jitter, regular_polygon

#: (name, number of corners, BGR colour); a circle is a 24-gon
SHAPES = (('circle', 24, (40, 40, 220)), ('square', 4, (60, 200, 60)),
          ('triangle', 3, (220, 120, 30)))
CLASSES = tuple(name for name, _, _ in SHAPES)


def _place(rng: np.random.Generator, size: int, taken: List[np.ndarray],
           radius: float) -> Optional[Tuple[float, float]]:
    """A centre whose box overlaps no box in ``taken`` (None: no room)."""
    for _ in range(100):
        cx, cy = rng.uniform(radius + 2, size - radius - 2, size=2)
        box = np.array([cx - radius, cy - radius, cx + radius, cy + radius])
        if all(box[0] > t[2] or box[2] < t[0] or box[1] > t[3] or box[3] < t[1]
               for t in taken):
            taken.append(box)
            return cx, cy
    return None


def _image(rng: np.random.Generator, size: int, image_id: int,
           first_ann_id: int) -> Tuple[np.ndarray, List[dict]]:
    image = background(rng, size, size)
    annotations, taken = [], []
    for n in range(int(rng.integers(1, 4))):
        category = int(rng.integers(len(SHAPES)))
        _, corners, colour = SHAPES[category]
        radius = rng.uniform(0.12, 0.22) * size
        centre = _place(rng, size, taken, radius)
        if centre is None:
            break
        cx, cy = centre
        angle = np.pi / 4 if corners == 4 else rng.uniform(-0.3, 0.3)
        points = regular_polygon(cx, cy, radius, corners, angle)
        fill_polygon(image, points, jitter(rng, colour))
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        annotations.append(
            dict(
                id=first_ann_id + n,
                image_id=image_id,
                category_id=category + 1,
                bbox=[round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                area=round(
                    float(cv2.contourArea(points.astype(np.float32))), 2),
                segmentation=[[round(float(v), 2) for v in points.ravel()]],
                iscrowd=0))
    return image, annotations


def write_coco_detection(root: Path,
                         num_train: int = 48,
                         num_val: int = 16,
                         size: int = 128,
                         seed: int = 0) -> None:
    """Write the data set under ``root`` (see the module docstring)."""
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(CLASSES)
    ]
    write_coco(root, 'instances', _image, categories,
               'mmdynact tiny COCO shapes', num_train, num_val, size, seed)
