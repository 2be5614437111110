"""``tools/train.py``: train a model from a config of any of the toolboxes."""
import argparse
from typing import Optional, Sequence

import torch
from mmengine.config import Config

from mmdynact.engine import TrainingStateCheckHook
from mmdynact.engine.compat import remove_stale_temporary_files
from mmdynact.models.utils import check_pretrained_checkpoints
from .common import add_common_arguments, build_runner, load_config
from .common import parse_args as parse
from .resume import checkpoint_to_resume


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The options of ``tools/train.py``."""
    parser = argparse.ArgumentParser(
        description='Train a model of mmdet, mmseg, mmpretrain or mmpose '
        "(the config's default_scope) with mmdynact's layers available")
    add_common_arguments(parser)
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume from CHECKPOINT (model, optimizer, schedulers, '
        'iteration, message hub); without CHECKPOINT, from the one the work '
        "dir's last_checkpoint names, or, if that is empty or names a "
        'missing or incomplete file, the newest complete epoch_N.pth / '
        'iter_N.pth there (none: training starts from the beginning)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (needs a GPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by total batch size / '
        'auto_scale_lr.base_batch_size')
    args = parse(parser, argv)
    if args.amp and not torch.cuda.is_available():
        parser.error("--amp needs a GPU: mmengine's AmpOptimWrapper runs on "
                     'CUDA (or NPU/MLU/MUSA) devices only')
    return args


def apply_train_options(cfg: Config, args: argparse.Namespace) -> None:
    """Apply ``--amp``, ``--auto-scale-lr`` and ``--resume`` to ``cfg``.

    ``--resume`` without a path sets ``cfg.load_from`` to
    :func:`~mmdynact.cli.resume.checkpoint_to_resume` of the work dir (and
    ``cfg.resume`` to False if there is none).
    """
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise KeyError(
                '--auto-scale-lr needs auto_scale_lr.base_batch_size in the '
                'config: the total batch size its learning rate is meant '
                'for, e.g. auto_scale_lr = dict(base_batch_size=16)')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.load_from = checkpoint_to_resume(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Train as ``tools/train.py`` does with ``argv``.

    A missing pretrained checkpoint (``init_cfg=dict(type='Pretrained')``)
    is reported before anything is built (mmengine reads it only when
    training starts, after building the data sets); so is a checkpoint to
    resume from that holds no training state, before it is used. What
    killed writers left in the work dir goes first
    (:func:`~mmdynact.engine.compat.remove_stale_temporary_files`).
    """
    args = parse_args(argv)
    cfg, _ = load_config(args)
    apply_train_options(cfg, args)
    check_pretrained_checkpoints(cfg.model)
    remove_stale_temporary_files(cfg.work_dir)
    runner = build_runner(cfg)
    if cfg.get('resume') and cfg.get('load_from'):
        runner.register_hook(TrainingStateCheckHook(cfg.load_from))
    runner.train()
