"""The demo: a detector with DY-ReLU-B, trained and evaluated on CPU.

    python tools/demo.py [--work-dir work_dirs/demo] [--config CONFIG]

Writes the tiny COCO-format data set (``data/tiny/coco``, if missing), trains
``configs/_tiny_/retinanet_r18-dyrelu-b_fpn_tiny-coco.py`` (RetinaNet, a
ResNet-18 with DY-ReLU-B at every activation) with ``tools/train.py``,
evaluates the checkpoint with ``tools/test.py`` (mmdet's CocoMetric, i.e.
pycocotools' COCO bbox mAP) and prints where the checkpoint, logs, metrics
and predictions are. ``make demo`` runs it after setting up the environment.
The logic is in :mod:`mmdynact.cli.demo`.
"""
from pathlib import Path

from mmdynact.cli.demo import main

if __name__ == '__main__':
    main(Path(__file__).resolve().parent)
