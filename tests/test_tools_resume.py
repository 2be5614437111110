"""A killed run resumed with --resume ends as the uninterrupted run did."""
import torch
from mmengine.config import Config

from tests.tiny_workspace import CLS_CONFIG, CLS_OPTIONS, run_python


def _checkpoint(path):
    return torch.load(path, map_location='cpu', weights_only=False)


def _assert_equal_tensors(a, b, where=''):
    """Same nested structure and bit-identical tensors."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_equal_tensors(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal_tensors(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


def test_killed_and_resumed_run_matches_uninterrupted(trained_classifier,
                                                      tiny_workspace,
                                                      tmp_path):  # noqa: F811
    # the same config, plus a hook that SIGKILLs the process after epoch 1
    cfg = Config.fromfile(CLS_CONFIG)
    cfg.custom_imports = dict(imports=['mmdynact', 'tests.interrupt_hook'])
    cfg.custom_hooks = [
        *cfg.get('custom_hooks', []),
        dict(type='KillAfterEpochHook', epoch=1)
    ]
    killed_config = tmp_path / 'killed.py'
    cfg.dump(killed_config)
    work_dir = tmp_path / 'work_dir'
    killed = run_python(
        tiny_workspace,
        'tools/train.py',
        killed_config,
        '--work-dir',
        work_dir,
        '--cfg-options',
        *CLS_OPTIONS,
        check=False)
    assert killed.returncode == -9, killed.stdout[-3000:]
    assert (work_dir / 'epoch_1.pth').exists()
    assert not (work_dir / 'epoch_2.pth').exists()

    run_python(tiny_workspace, 'tools/train.py', CLS_CONFIG, '--work-dir',
               work_dir, '--resume', '--cfg-options', *CLS_OPTIONS)
    resumed = _checkpoint(work_dir / 'epoch_2.pth')
    uninterrupted = _checkpoint(trained_classifier / 'epoch_2.pth')
    for key in ('state_dict', 'optimizer', 'param_schedulers'):
        _assert_equal_tensors(resumed[key], uninterrupted[key], key)
    assert resumed['meta']['iter'] == uninterrupted['meta']['iter']
