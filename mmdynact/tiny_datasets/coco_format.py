"""Write COCO-format splits: ``annotations/<name>_<split>2017.json``, JPEGs."""
from pathlib import Path
from typing import Callable, List, Tuple

import numpy as np

from .drawing import save_image, save_json, split_rng

#: ``(rng, size, image_id, first_annotation_id) -> (image, annotations)``
DrawImage = Callable[[np.random.Generator, int, int, int], Tuple[np.ndarray,
                                                                 List[dict]]]


def write_coco(root: Path, ann_name: str, draw_image: DrawImage,
               categories: List[dict], description: str, num_train: int,
               num_val: int, size: int, seed: int) -> None:
    """Draw the ``train`` and ``val`` splits and write them as COCO does.

    Images are ``ROOT/{train,val}2017/<12-digit id>.jpg`` (square, ``size``
    pixels); annotations ``ROOT/annotations/<ann_name>_{train,val}2017.json``
    with ids counted from 1 in each split.
    """
    for split, count in (('train', num_train), ('val', num_val)):
        rng = split_rng(seed, split)
        images: List[dict] = []
        annotations: List[dict] = []
        for image_id in range(1, count + 1):
            file_name = f'{image_id:012d}.jpg'
            image, anns = draw_image(rng, size, image_id, len(annotations) + 1)
            save_image(root / f'{split}2017' / file_name, image)
            images.append(
                dict(
                    id=image_id, file_name=file_name, width=size, height=size))
            annotations += anns
        save_json(
            root / 'annotations' / f'{ann_name}_{split}2017.json',
            dict(
                info=dict(description=description),
                licenses=[],
                images=images,
                annotations=annotations,
                categories=categories))
