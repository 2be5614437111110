"""tools/train.py then tools/test.py on the tiny data, one config a toolbox."""
import pytest

from tests.tiny_workspace import (CLS_CONFIG, TINY_CONFIGS, read_test_metrics,
                                  run_python, train_losses)

#: config, train options, checkpoint, test options, metric key; training
#: skips validation (val_begin), tools/test.py evaluates
CASES = {
    'detection': ('retinanet_r18-dyrelu-b_fpn_tiny-coco.py', (
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=2'),
        'epoch_1.pth', ('model.test_cfg.score_thr=0', ), 'coco/bbox_mAP'),
    'segmentation': ('pspnet_r18-d8-frelu_tiny-cityscapes.py', (
        'train_cfg.max_iters=12', 'default_hooks.logger.interval=2'),
        'iter_12.pth', (), 'mIoU'),
    'keypoints': ('td-hm_mobilenetv2-dyrelu_tiny-coco-64x64.py', (
        'train_cfg.max_epochs=2', 'default_hooks.logger.interval=1'),
        'epoch_2.pth', (), 'coco/AP'),
}


def _assert_loss_went_down(losses):
    third = max(1, len(losses) // 3)
    first, last = losses[:third], losses[-third:]
    assert sum(last) / len(last) < sum(first) / len(first), losses


@pytest.mark.parametrize('case', sorted(CASES))
def test_train_then_test(case, tiny_workspace, tmp_path):  # noqa: F811
    config, train_options, checkpoint, test_options, metric = CASES[case]
    config = TINY_CONFIGS / config
    run_python(tiny_workspace, 'tools/train.py', config, '--work-dir',
               tmp_path, '--cfg-options', 'train_cfg.val_begin=1000',
               *train_options)
    _assert_loss_went_down(train_losses(tmp_path))
    test_args = ('--cfg-options', *test_options) if test_options else ()
    run_python(tiny_workspace, 'tools/test.py', config, tmp_path / checkpoint,
               '--work-dir', tmp_path, *test_args)
    assert metric in read_test_metrics(tmp_path)


def test_classifier_trains_and_tests(trained_classifier,  # noqa: F811
                                     tiny_workspace):  # noqa: F811
    # (from scratch, its loss first rises for a few dozen iterations)
    assert train_losses(trained_classifier)
    out = trained_classifier / 'predictions.pkl'
    run_python(tiny_workspace, 'tools/test.py', CLS_CONFIG,
               trained_classifier / 'epoch_2.pth', '--work-dir',
               trained_classifier, '--out', out)
    metrics = read_test_metrics(trained_classifier)
    assert 'accuracy/top1' in metrics
    assert out.stat().st_size > 0
