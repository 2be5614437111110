"""Pixels and files shared by the tiny dataset writers."""
import json
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

Colour = Sequence[int]


def background(rng: np.random.Generator,
               height: int,
               width: int,
               colour: Colour = (120, 120, 120),
               noise: int = 12) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 BGR image: ``colour`` plus uniform noise."""
    pixels = np.asarray(colour, np.int16) + rng.integers(
        -noise, noise + 1, size=(height, width, 3), dtype=np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def jitter(rng: np.random.Generator,
           colour: Colour,
           amount: int = 20) -> tuple:
    """``colour`` moved by up to ``amount`` per channel (a cv2 colour)."""
    moved = np.clip(
        np.asarray(colour) + rng.integers(-amount, amount + 1, size=3), 0, 255)
    return tuple(int(c) for c in moved)


def regular_polygon(cx: float,
                    cy: float,
                    radius: float,
                    corners: int,
                    angle: float = 0.0) -> np.ndarray:
    """``(corners, 2)`` float vertices of a regular polygon."""
    theta = angle + np.arange(corners) * 2 * np.pi / corners
    return np.stack([cx + radius * np.sin(theta), cy - radius * np.cos(theta)],
                    axis=1)


def fill_polygon(image: np.ndarray, points: np.ndarray,
                 colour: Colour) -> None:
    """Fill the polygon ``points`` (``(N, 2)`` x, y) in ``image``."""
    cv2.fillPoly(
        image, [np.round(points).astype(np.int32)],
        colour,
        lineType=cv2.LINE_AA)


def save_image(path: Path, image: np.ndarray) -> None:
    """Write ``image`` (BGR or single channel) as the suffix says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    jpeg = path.suffix in ('.jpg', '.jpeg', '.JPEG')
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if jpeg else []
    if not cv2.imwrite(str(path), image, params):
        raise OSError(f'could not write {path}')


def save_json(path: Path, content: dict) -> None:
    """Write ``content`` as compact JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, separators=(',', ':')))


def split_rng(seed: int, split: str) -> np.random.Generator:
    """An independent, reproducible generator for one split of a dataset."""
    return np.random.default_rng([seed, sum(map(ord, split))])
