"""A tiny COCO-format keypoint data set: stick figures with 17 keypoints.

Layout (as ``data/coco`` for mmpose's ``CocoDataset`` and ``CocoMetric``)::

    ROOT/annotations/person_keypoints_{train,val}2017.json
    ROOT/{train,val}2017/000000000001.jpg ...

Each image shows one or two figures facing the viewer (their left on the
image's right, as in COCO). Limbs are lines and every keypoint a dot of its
own colour, so the keypoints and their sides can be told apart. Annotations
have the 17 COCO keypoints ``[x, y, v]``, ``num_keypoints``, a person box
and its area.
"""
from pathlib import Path
from typing import List, Tuple

import cv2
import numpy as np

from .coco_format import write_coco
from .drawing import background

KEYPOINTS = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
             'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
             'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
             'right_knee', 'left_ankle', 'right_ankle')
#: COCO's skeleton, 1-based keypoint indices
SKELETON = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13),
            (6, 7), (6, 8), (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3),
            (2, 4), (3, 5), (4, 6), (5, 7))
#: a distinct BGR colour per keypoint (hues around the circle)
DOT_COLOURS = [
    tuple(
        int(c) for c in cv2.cvtColor(
            np.uint8([[[i * 180 //
                        len(KEYPOINTS), 255, 255]]]), cv2.COLOR_HSV2BGR)[0, 0])
    for i in range(len(KEYPOINTS))
]
#: (x, y) of the head and torso keypoints relative to the hip centre, in
#: body heights; limbs are added with random angles
HEAD_AND_TORSO = {
    0: (0.0, -0.42),
    1: (0.03, -0.44),
    2: (-0.03, -0.44),
    3: (0.06, -0.42),
    4: (-0.06, -0.42),
    5: (0.11, -0.30),
    6: (-0.11, -0.30),
    11: (0.07, 0.0),
    12: (-0.07, 0.0)
}
#: (joint, parent, length in body heights, mean angle from straight down)
LIMBS = ((7, 5, 0.15, 0.35), (8, 6, 0.15, -0.35), (9, 7, 0.14, 0.2),
         (10, 8, 0.14, -0.2), (13, 11, 0.24, 0.1), (14, 12, 0.24, -0.1),
         (15, 13, 0.24, 0.0), (16, 14, 0.24, 0.0))


def _figure(rng: np.random.Generator, cx: float, cy: float,
            height: float) -> np.ndarray:
    """``(17, 2)`` keypoint coordinates of a figure with hips at cx, cy."""
    points = np.zeros((len(KEYPOINTS), 2))
    for index, (x, y) in HEAD_AND_TORSO.items():
        points[index] = cx + x * height, cy + y * height
    for joint, parent, length, mean in LIMBS:
        angle = mean + rng.uniform(-0.5, 0.5)
        points[joint] = points[parent] + length * height * np.array(
            [np.sin(angle), np.cos(angle)])
    return points


def _draw(image: np.ndarray, points: np.ndarray, height: float) -> None:
    thickness = max(1, int(height / 40))
    for a, b in SKELETON:
        cv2.line(image, tuple(np.round(points[a - 1]).astype(int)),
                 tuple(np.round(points[b - 1]).astype(int)), (235, 235, 235),
                 thickness, cv2.LINE_AA)
    for point, colour in zip(points, DOT_COLOURS):
        cv2.circle(image, tuple(np.round(point).astype(int)), thickness + 1,
                   colour, -1, cv2.LINE_AA)


def _annotation(points: np.ndarray, size: int, height: float, image_id: int,
                ann_id: int) -> dict:
    inside = np.all((points >= 0) & (points <= size - 1), axis=1)
    keypoints = np.zeros((len(KEYPOINTS), 3))
    keypoints[inside, :2] = points[inside]
    keypoints[inside, 2] = 2
    margin = 0.05 * height
    x0, y0 = np.clip(points.min(axis=0) - margin, 0, size - 1)
    x1, y1 = np.clip(points.max(axis=0) + margin, 0, size - 1)
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=1,
        keypoints=[round(float(v), 2) for v in keypoints.ravel()],
        num_keypoints=int(inside.sum()),
        bbox=[round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
        # the figure covers about half of its box
        area=round(float((x1 - x0) * (y1 - y0) / 2), 2),
        iscrowd=0)


def _image(rng: np.random.Generator, size: int, image_id: int,
           first_ann_id: int) -> Tuple[np.ndarray, List[dict]]:
    image = background(rng, size, size, colour=(70, 90, 60))
    count = int(rng.integers(1, 3))
    annotations: List[dict] = []
    for n in range(count):
        height = rng.uniform(0.55, 0.8) * size
        slot = size / count
        cx = slot * (n + 0.5) + rng.uniform(-0.1, 0.1) * slot
        cy = rng.uniform(0.45 * height, size - 0.5 * height)
        points = _figure(rng, cx, cy, height)
        _draw(image, points, height)
        annotations.append(
            _annotation(points, size, height, image_id, first_ann_id + n))
    return image, annotations


def write_coco_keypoints(root: Path,
                         num_train: int = 48,
                         num_val: int = 16,
                         size: int = 128,
                         seed: int = 0) -> None:
    """Write the data set under ``root`` (see the module docstring)."""
    category = dict(
        id=1,
        name='person',
        supercategory='person',
        keypoints=list(KEYPOINTS),
        skeleton=[list(pair) for pair in SKELETON])
    write_coco(root, 'person_keypoints', _image, [category],
               'mmdynact tiny COCO stick figures', num_train, num_val, size,
               seed)
