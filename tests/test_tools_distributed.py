"""Two-process training and testing on CPU (gloo) with tools/dist_*.sh."""
from tests.tiny_workspace import CLS_CONFIG, read_test_metrics, run_script


def test_dist_train_and_test_on_cpu(tiny_workspace, tmp_path):  # noqa: F811
    run_script(tiny_workspace, 'dist_train.sh', CLS_CONFIG, 2, '--work-dir',
               tmp_path, '--cfg-options', 'train_cfg.max_epochs=1')
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log
    # 80 images, batch 16, 2 processes: 3 iterations each (not 5)
    assert 'Epoch(train) [1][3/3]' in log
    run_script(tiny_workspace, 'dist_test.sh', CLS_CONFIG,
               tmp_path / 'epoch_1.pth', 2, '--work-dir', tmp_path)
    assert 'accuracy/top1' in read_test_metrics(tmp_path)
