"""tools/train.py then tools/test.py on the tiny data, one config a toolbox."""
import pytest

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
