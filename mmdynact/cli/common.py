"""What ``tools/train.py`` and ``tools/test.py`` share.

Their common options, the config with those options applied, and the runner.
Importing this module imports mmdynact, so configs use its layers and hooks
without ``custom_imports``.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdynact.engine.compat import (PortableRunner, trust_local_checkpoints,
                                    write_last_checkpoint_atomically,
                                    write_local_files_atomically)
from .toolbox import Toolbox, load_toolbox_config

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


class KeyValueAction(DictAction):
    """mmengine's ``DictAction``, which names an item that has no ``=``.

    (``DictAction`` itself fails on one with ``ValueError: not enough values
    to unpack``.)
    """

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values or ():
            if '=' not in item:
                parser.error(
                    f'{option_string}: {item!r} is not KEY=VALUE; write each '
                    'item as KEY=VALUE without spaces around "=", e.g. '
                    'train_cfg.max_epochs=2 model.backbone.act_cfg.type=FReLU')
        super().__call__(parser, namespace, values, option_string)


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options key=value ...``, merged into the config(s)."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=KeyValueAction,
        help='override config entries, key=value, e.g. '
        'train_cfg.max_epochs=2 "model.backbone.act_cfg.type=FReLU"; lists '
        'as key="[a,b]" (quotes needed, no spaces)')


def add_input_size(parser: argparse.ArgumentParser,
                   flag: str = '--shape') -> None:
    """``--shape H W`` (or ``flag``), a model's input size."""
    parser.add_argument(
        flag,
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input size (default: the toolbox\'s usual one: 224x224, '
        '800x1344, 512x1024 or 256x192)')


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options both tools take (the config comes first)."""
    parser.add_argument('config', help='config file of any of the toolboxes')
    parser.add_argument(
        '--work-dir',
        help='folder for logs, checkpoints and results (default: '
        'work_dirs/<config name>, or work_dir in the config)')
    add_cfg_options(parser)
    parser.add_argument(
        '--launcher',
        choices=LAUNCHERS,
        default='none',
        help='how the processes were started (dist_*.sh: pytorch, '
        'slurm_*.sh: slurm)')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK
    parser.add_argument(
        '--local-rank',
        '--local_rank',
        type=int,
        default=0,
        help=argparse.SUPPRESS)


def parse_args(parser: argparse.ArgumentParser,
               argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse ``argv`` (default: the command line); export LOCAL_RANK."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(args: argparse.Namespace) -> Tuple[Config, Toolbox]:
    """The config with the common options applied, and its toolbox.

    ``work_dir`` is, in order: ``--work-dir``, the config's ``work_dir``,
    ``work_dirs/<config file name>``.
    """
    cfg, toolbox = load_toolbox_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        name = osp.splitext(osp.basename(args.config))[0]
        cfg.work_dir = osp.join('work_dirs', name)
    return cfg, toolbox


def build_runner(cfg: Config) -> Runner:
    """The config's ``runner_type``, by default :class:`PortableRunner`.

    Local checkpoints are loaded in full (trusted, see
    :mod:`mmdynact.engine.compat.trusted_checkpoints`) and local files are
    written atomically (see
    :mod:`mmdynact.engine.compat.atomic_local_backend`), ``last_checkpoint``
    included (:mod:`mmdynact.engine.compat.atomic_checkpoint_hook`).
    """
    trust_local_checkpoints()
    write_local_files_atomically()
    write_last_checkpoint_atomically(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return PortableRunner.from_cfg(cfg)
