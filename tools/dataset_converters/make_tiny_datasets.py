"""Write the tiny data sets the ``configs/_tiny_`` configs train on.

    python tools/dataset_converters/make_tiny_datasets.py [ROOT]
        [--only coco cityscapes ...] [--seed 0]

ROOT defaults to ``data/tiny`` (where the tiny configs look, relative to the
folder you run the tools from). Writes ``ROOT/coco`` (COCO detection),
``ROOT/coco_keypoints`` (COCO keypoints), ``ROOT/cityscapes`` and
``ROOT/imagenet``, in a few seconds, the same files for the same seed.
The logic is in :mod:`mmdynact.cli.make_tiny_datasets`.
"""
from mmdynact.cli.make_tiny_datasets import main

if __name__ == '__main__':
    main()
