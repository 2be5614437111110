"""``tools/test.py``: test a checkpoint with the metrics of its config."""
import argparse
from typing import Optional, Sequence

from mmengine.config import Config

from mmdynact.engine import CheckpointCoverageHook
from .common import add_common_arguments, build_runner, load_config
from .common import parse_args as parse
from .toolbox import Toolbox

ALLOW_PARTIAL = '--allow-partial-checkpoint'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The options of ``tools/test.py``."""
    parser = argparse.ArgumentParser(
        description='Test a checkpoint of mmdet, mmseg, mmpretrain or '
        "mmpose (the config's default_scope) with its config's metrics")
    add_common_arguments(parser)
    parser.add_argument('checkpoint', help='checkpoint file to test')
    parser.add_argument(
        ALLOW_PARTIAL,
        action='store_true',
        help='test even if the checkpoint does not cover the model (keys '
        'missing, or other shapes); those weights stay as initialised. '
        'Without it, such a checkpoint (e.g. of another model) stops the '
        'test with the keys listed')
    parser.add_argument(
        '--out',
        help='also pickle the predictions to this .pkl file (mmdet: in '
        'the format of its offline evaluation tools)')
    parser.add_argument(
        '--show-dir',
        help='paint the predictions into this folder (relative paths: '
        'mmdet and mmpose put it under <work dir>/<timestamp>, mmseg writes '
        '<dir>/vis_data/vis_image)')
    args = parse(parser, argv)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out {args.out}: the predictions are pickled; give '
                     'a .pkl file')
    return args


def apply_test_options(cfg: Config, toolbox: Toolbox,
                       args: argparse.Namespace) -> None:
    """Load the checkpoint; apply ``--out`` and ``--show-dir`` to ``cfg``."""
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show_dir is not None:
        toolbox.show_dir(cfg, args.show_dir)
    if args.out is not None:
        dump = dict(type=toolbox.dump_metric, out_file_path=args.out)
        metrics = cfg.test_evaluator
        if not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        cfg.test_evaluator = [*metrics, dump]


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Test as ``tools/test.py`` does with ``argv``; return the metrics.

    Unless ``--allow-partial-checkpoint``, a checkpoint that does not cover
    the model stops it (:class:`~mmdynact.engine.CheckpointCoverageHook`)
    before anything is evaluated.
    """
    args = parse_args(argv)
    cfg, toolbox = load_config(args)
    apply_test_options(cfg, toolbox, args)
    runner = build_runner(cfg)
    if not args.allow_partial_checkpoint:
        runner.register_hook(
            CheckpointCoverageHook(args.checkpoint, f'add {ALLOW_PARTIAL}'))
    return runner.test()
