"""``tools/demo.py``: a detector with DY-ReLU-B, trained and tested on CPU.

Writes the tiny COCO-format data set (``data/tiny/coco``, if missing), trains
``configs/_tiny_/retinanet_r18-dyrelu-b_fpn_tiny-coco.py`` with
``tools/train.py``, evaluates the checkpoint with ``tools/test.py`` (mmdet's
CocoMetric, i.e. pycocotools' COCO bbox mAP) and prints where the
checkpoint, logs, metrics and predictions are.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from mmdynact.tiny_datasets import write_tiny_datasets

DEMO_CONFIG = 'configs/_tiny_/retinanet_r18-dyrelu-b_fpn_tiny-coco.py'
DATA = Path('data/tiny')
METRICS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75')


def run(*args) -> None:
    """Run a tool of this checkout with this Python; stop if it fails.

    The kernels run eager unless ``MMDYNACT_BACKEND`` says otherwise: on a
    short CPU run, compiling the fused ones would take longer than they save.
    """
    command = [sys.executable, *map(str, args)]
    print('\n$', ' '.join(command), flush=True)
    env = dict(os.environ)
    env.setdefault('MMDYNACT_BACKEND', 'eager')
    subprocess.run(command, check=True, env=env)


def newest(work_dir: Path, pattern: str) -> Path:
    """The last file matching ``pattern`` (run folders sort by time)."""
    return sorted(work_dir.glob(pattern))[-1]


def main(tools: Path, argv: Optional[Sequence[str]] = None) -> None:
    """Run the demo with the ``train.py``/``test.py`` in the folder ``tools``.

    Args:
        tools: The checkout's ``tools`` folder (its parent holds
            ``configs``).
        argv: Command-line options (default: ``sys.argv``).
    """
    parser = argparse.ArgumentParser(
        description='Train and test a RetinaNet with DY-ReLU-B on the tiny '
        'COCO data, on CPU')
    parser.add_argument(
        '--work-dir', type=Path, default=Path('work_dirs/demo'))
    parser.add_argument(
        '--config', type=Path, default=tools.parent / DEMO_CONFIG)
    args = parser.parse_args(argv)
    start = time.time()
    if not (DATA / 'coco' / 'annotations').exists():
        write_tiny_datasets(DATA, ['coco'])
        print(f'wrote the tiny COCO data set to {DATA / "coco"}')
    run(tools / 'train.py', args.config, '--work-dir', args.work_dir)
    train_log = newest(args.work_dir, '*/*.log')
    checkpoint = Path((args.work_dir / 'last_checkpoint').read_text().strip())
    predictions = args.work_dir / 'predictions.pkl'
    run(tools / 'test.py', args.config, checkpoint, '--work-dir',
        args.work_dir, '--out', predictions)
    metrics_file = newest(args.work_dir, '*/[0-9]*_[0-9]*.json')
    metrics = json.loads(metrics_file.read_text())
    print(f'\n== mmdynact demo: done in {time.time() - start:.0f} s ==')
    for key in METRICS:
        print(f'{key:18s} {metrics.get(key, float("nan")):.3f}')
    print(f'checkpoint         {checkpoint}')
    print(f'training log       {train_log}')
    print(f'test metrics       {metrics_file}')
    print(f'test log           {metrics_file.with_suffix(".log")}')
    print(f'predictions        {predictions}')
