"""tools/train.py then tools/test.py on the tiny data, one config a toolbox."""
import math

import pytest
from mmengine.registry import MODELS, DefaultScope
from torch import nn

from mmdynact.cli import build_runner, load_config
from mmdynact.cli import train as train_tool
from tests.tiny_workspace import (CLS_CONFIG, DET_CONFIG, POSE_CONFIG,
                                  SEG_CONFIG, last_checkpoint,
                                  read_test_metrics, run_python, train_losses)

#: the trained model's fixture, its config, test options, metric key
TRAINED = {
    'detection': ('trained_detector', DET_CONFIG,
                  ('model.test_cfg.score_thr=0', ), 'coco/bbox_mAP'),
    'segmentation': ('trained_segmentor', SEG_CONFIG, (), 'mIoU'),
}


def _assert_loss_went_down(losses):
    third = max(1, len(losses) // 3)
    first, last = losses[:third], losses[-third:]
    assert sum(last) / len(last) < sum(first) / len(first), losses


@pytest.mark.parametrize('case', sorted(TRAINED))
def test_trained_model_tests(case, request, tiny_workspace, tmp_path):
    fixture, config, test_options, metric = TRAINED[case]
    work_dir = request.getfixturevalue(fixture)
    _assert_loss_went_down(train_losses(work_dir))
    test_args = ('--cfg-options', *test_options) if test_options else ()
    run_python(tiny_workspace, 'tools/test.py', config,
               last_checkpoint(work_dir), '--work-dir', tmp_path, *test_args)
    assert metric in read_test_metrics(tmp_path)


def test_keypoints_train_then_test(trained_pose_estimator, tiny_workspace,
                                   tmp_path):
    # training skips validation (val_begin), tools/test.py evaluates
    _assert_loss_went_down(train_losses(trained_pose_estimator))
    run_python(tiny_workspace, 'tools/test.py', POSE_CONFIG,
               trained_pose_estimator / 'epoch_2.pth', '--work-dir', tmp_path)
    assert 'coco/AP' in read_test_metrics(tmp_path)


def test_classifier_trains_and_tests(trained_classifier, tiny_workspace):
    # (from scratch, its loss first rises for a few dozen iterations)
    assert train_losses(trained_classifier)
    out = trained_classifier / 'predictions.pkl'
    run_python(tiny_workspace, 'tools/test.py', CLS_CONFIG,
               trained_classifier / 'epoch_2.pth', '--work-dir',
               trained_classifier, '--out', out)
    metrics = read_test_metrics(trained_classifier)
    assert 'accuracy/top1' in metrics
    assert out.stat().st_size > 0


def test_sync_bn_config_trains_in_one_cpu_process(tiny_workspace, tmp_path,
                                                  monkeypatch):
    # the tiny PSPNet keeps the paper config's SyncBN; the tools' runner
    # trains it in one CPU process (mmengine reverts SyncBN to BN there)
    monkeypatch.chdir(tiny_workspace)
    args = train_tool.parse_args([
        str(SEG_CONFIG), '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_iters=1',
        'train_cfg.val_begin=1000'
    ])
    cfg, _ = load_config(args)
    # (the scope the runner sets is undone afterwards)
    with DefaultScope.overwrite_default_scope('mmseg'):
        built = MODELS.build(cfg.model)
        assert any(isinstance(m, nn.SyncBatchNorm) for m in built.modules())
        runner = build_runner(cfg)
        runner.train()
    assert not any(
        isinstance(m, nn.SyncBatchNorm) for m in runner.model.modules())
    assert runner.iter == 1
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
