"""--resume: a killed run resumed ends as the uninterrupted run did; the
checkpoint without a path is found despite a broken last_checkpoint; files
that cannot be resumed from are named with their problem."""
import re
import shutil
import subprocess
import sys
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from mmdynact.cli import load_config
from mmdynact.cli import train as train_tool
from mmdynact.cli.resume import checkpoint_to_resume
from mmdynact.engine import CheckpointMismatchError, UnreadableCheckpointError
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


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, '-c', ''])
    child.wait()
    return child.pid


@pytest.fixture
def work_dir_with_checkpoints(tmp_path):
    """epoch_1 and epoch_2 complete, epoch_3 truncated (an interrupted
    copy), as in a work dir after a crash."""
    for epoch in (1, 2, 3):
        torch.save(
            dict(meta=dict(epoch=epoch)), tmp_path / f'epoch_{epoch}.pth')
    epoch_3 = tmp_path / 'epoch_3.pth'
    epoch_3.write_bytes(epoch_3.read_bytes()[:100])
    return tmp_path


@pytest.mark.parametrize('record, warning', [
    ('', 'last_checkpoint is empty'),
    ('{work_dir}/moved/epoch_2.pth', 'names {work_dir}/moved/epoch_2.pth, '
     'but there is no such file'),
    ('{work_dir}/epoch_3.pth', 'names {work_dir}/epoch_3.pth, but the file '
     'is truncated'),
])
def test_auto_resume_falls_back_to_the_newest_complete_checkpoint(
        work_dir_with_checkpoints, record, warning):
    work_dir = work_dir_with_checkpoints
    (work_dir / 'last_checkpoint').write_text(record.format(work_dir=work_dir))
    args = train_tool.parse_args(
        [str(CLS_CONFIG), '--work-dir',
         str(work_dir), '--resume'])
    cfg, _ = load_config(args)
    log = work_dir / 'resume.log'
    MMLogger.get_instance(f'resume-{uuid.uuid4()}', log_file=str(log))
    train_tool.apply_train_options(cfg, args)
    assert cfg.resume is True
    assert cfg.load_from == str(work_dir / 'epoch_2.pth')
    out = log.read_text()
    assert warning.format(work_dir=work_dir) in out
    assert f'resuming from the newest complete checkpoint there, ' \
        f'{work_dir}/epoch_2.pth' in out


def test_auto_resume_follows_a_sound_last_checkpoint(
        work_dir_with_checkpoints):
    work_dir = work_dir_with_checkpoints
    (work_dir / 'last_checkpoint').write_text(f'{work_dir}/epoch_1.pth')
    assert checkpoint_to_resume(str(work_dir)) == f'{work_dir}/epoch_1.pth'
    (work_dir / 'last_checkpoint').unlink()
    assert checkpoint_to_resume(str(work_dir)) == f'{work_dir}/epoch_2.pth'
    for epoch in (1, 2):
        (work_dir / f'epoch_{epoch}.pth').unlink()
    assert checkpoint_to_resume(str(work_dir)) is None


def test_resume_after_a_crash_in_the_last_checkpoint_write(
        trained_classifier, tiny_workspace, tmp_path):
    # killed while writing last_checkpoint (left empty) and epoch_2.pth
    # (its temporary file left behind)
    work_dir = tmp_path / 'work_dir'
    work_dir.mkdir()
    shutil.copy(trained_classifier / 'epoch_1.pth', work_dir)
    (work_dir / 'last_checkpoint').write_text('')
    stale = work_dir / f'.epoch_2.pth.{_dead_pid()}.tmp'
    stale.write_bytes(b'half a checkpoint')
    run_python(tiny_workspace, 'tools/train.py', CLS_CONFIG, '--work-dir',
               work_dir, '--resume', '--cfg-options', *CLS_OPTIONS)
    assert not stale.exists()
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir /
                                                             'epoch_2.pth')
    resumed = _checkpoint(work_dir / 'epoch_2.pth')
    uninterrupted = _checkpoint(trained_classifier / 'epoch_2.pth')
    for key in ('state_dict', 'optimizer', 'param_schedulers'):
        _assert_equal_tensors(resumed[key], uninterrupted[key], key)


@pytest.fixture
def unresumable(tmp_path):
    """Files passed to --resume that cannot be resumed from."""
    files = dict(
        empty=tmp_path / 'empty.pth',
        garbage=tmp_path / 'garbage.pth',
        weights=tmp_path / 'weights.pth')
    files['empty'].write_bytes(b'')
    files['garbage'].write_text('not a checkpoint at all')
    # e.g. a published or converted checkpoint: weights only
    torch.save(
        dict(
            state_dict={'head.fc.weight': torch.zeros(10, 640)},
            meta=dict(converted_from='official.pth')), files['weights'])
    return files


@pytest.mark.parametrize('name, error, message', [
    ('empty', UnreadableCheckpointError, r'{path}: the file is empty'),
    ('garbage', UnreadableCheckpointError,
     r'{path}: it is not a PyTorch checkpoint'),
    ('weights', CheckpointMismatchError,
     r'cannot resume from {path}: it has no meta.epoch, meta.iter, '
     r'message_hub, so it is not a training checkpoint .* To start training '
     r'from its weights instead, drop --resume and add --cfg-options '
     r'load_from={path}'),
])
def test_resume_from_an_unusable_file_names_it_and_its_problem(
        unresumable, name, error, message, tiny_workspace, tmp_path,
        monkeypatch, restore_local_io):
    monkeypatch.chdir(tiny_workspace)
    path = unresumable[name]
    # (the scope the runner sets is undone afterwards)
    with DefaultScope.overwrite_default_scope('mmpretrain'), pytest.raises(
            error, match=message.format(path=re.escape(str(path)))):
        train_tool.main([
            str(CLS_CONFIG), '--work-dir',
            str(tmp_path / 'work_dir'), '--resume',
            str(path), '--cfg-options', *CLS_OPTIONS
        ])
