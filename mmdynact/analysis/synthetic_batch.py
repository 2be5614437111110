"""Random training batches in the format each toolbox's model expects.

``model.train_step(batch, optim_wrapper)`` (and ``data_preprocessor``) take
``dict(inputs=[uint8 images (3, H, W)], data_samples=[...])``; the samples
carry what the toolbox's losses read: an ImageNet label, COCO boxes, a
Cityscapes label map, or keypoint heatmaps. Sizes and class counts follow
the config, so a model is trained at its real input size.
"""
from typing import Callable, Dict, Tuple

import torch
from mmengine.config import Config


def _images(batch: int, shape: Tuple[int, int],
            generator: torch.Generator) -> list:
    return [
        torch.randint(
            0, 256, (3, *shape), generator=generator, dtype=torch.uint8)
        for _ in range(batch)
    ]


def _classification(cfg: Config, batch: int, shape: Tuple[int, int],
                    generator: torch.Generator) -> dict:
    from mmpretrain.structures import DataSample
    labels = torch.randint(
        0, cfg.model.head.num_classes, (batch, ), generator=generator)
    return dict(
        inputs=_images(batch, shape, generator),
        data_samples=[
            DataSample().set_gt_label(int(label)) for label in labels
        ])


def _detection(cfg: Config, batch: int, shape: Tuple[int, int],
               generator: torch.Generator) -> dict:
    from mmdet.testing import demo_mm_inputs
    head = cfg.model.get('bbox_head') or cfg.model.roi_head.bbox_head
    data = demo_mm_inputs(
        batch, [[3, *shape]] * batch,
        num_items=[5] * batch,
        num_classes=head.num_classes)
    data['inputs'] = _images(batch, shape, generator)
    return data


def _segmentation(cfg: Config, batch: int, shape: Tuple[int, int],
                  generator: torch.Generator) -> dict:
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(batch):
        sample = SegDataSample(
            metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(
                0,
                cfg.model.decode_head.num_classes, (1, *shape),
                generator=generator))
        samples.append(sample)
    return dict(inputs=_images(batch, shape, generator), data_samples=samples)


def _pose(cfg: Config, batch: int, shape: Tuple[int, int],
          generator: torch.Generator) -> dict:
    from mmpose.testing import get_packed_inputs
    height, width = shape
    stride = cfg.codec.input_size[0] // cfg.codec.heatmap_size[0]
    data = get_packed_inputs(
        batch_size=batch,
        num_keypoints=cfg.model.head.out_channels,
        img_shape=shape,
        input_size=(width, height),
        heatmap_size=(width // stride, height // stride),
        with_reg_label=False,
        with_simcc_label=False)
    data['inputs'] = _images(batch, shape, generator)
    return data


SYNTHETIC: Dict[str, Callable[..., dict]] = dict(
    mmpretrain=_classification,
    mmdet=_detection,
    mmseg=_segmentation,
    mmpose=_pose)


def synthetic_batch(cfg: Config,
                    batch: int,
                    shape: Tuple[int, int],
                    seed: int = 0) -> dict:
    """A random batch of ``batch`` images ``shape = (H, W)`` for ``cfg``'s
    model (its ``default_scope`` chooses the toolbox)."""
    scope = cfg.get('default_scope')
    if scope not in SYNTHETIC:
        raise ValueError(f'no synthetic batches for default_scope={scope!r};'
                         f' supported: {", ".join(SYNTHETIC)}')
    return SYNTHETIC[scope](cfg, batch, tuple(shape),
                            torch.Generator().manual_seed(seed))
