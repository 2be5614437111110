"""mmdynact.engine.compat: CPU distributed runs, checkpoint loading/saving."""
import os
import re
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.logging import MessageHub
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from mmdynact.engine.checkpoint_files import (UnreadableCheckpointError,
                                              checkpoint_file_problem,
                                              read_checkpoint)
from mmdynact.engine.compat import (AtomicLocalBackend, PortableRunner,
                                    atomic_checkpoint_hook, launcher_env,
                                    remove_stale_temporary_files,
                                    trust_local_checkpoints, write_atomically,
                                    write_last_checkpoint_atomically,
                                    write_local_files_atomically)


class SyncBNModel(BaseModel):
    """A conv and a SyncBN, as configs written for GPU clusters have."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.SyncBatchNorm(4)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.norm(self.conv(inputs))


@pytest.fixture
def single_process_group_env(monkeypatch):
    """torchrun's variables for a one-process job; the group is torn down."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for key, value in dict(
            RANK=0,
            LOCAL_RANK=0,
            WORLD_SIZE=1,
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=port).items():
        monkeypatch.setenv(key, str(value))
    yield
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU code path')
@pytest.mark.parametrize('wrapper_cfg', [
    None,
    dict(type='MMDistributedDataParallel', find_unused_parameters=True)
])
def test_distributed_runner_on_cpu_uses_gloo_ddp_without_devices_and_bn(
        wrapper_cfg, single_process_group_env, tmp_path):
    with DefaultScope.overwrite_default_scope('mmengine'):  # undone after
        runner = PortableRunner(
            model=SyncBNModel(),
            work_dir=str(tmp_path),
            launcher='pytorch',
            cfg=dict(model_wrapper_cfg=wrapper_cfg),
            env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60)))
    assert torch_dist.get_backend() == 'gloo'
    assert isinstance(runner.model, MMDistributedDataParallel)
    assert runner.model.device_ids is None
    assert not any(
        isinstance(m, nn.SyncBatchNorm) for m in runner.model.modules())
    assert isinstance(runner.model.module.norm,
                      nn.modules.batchnorm._BatchNorm)
    runner.model(torch.randn(2, 3, 8, 8)).sum().backward()


def test_slurm_and_mpi_variables_become_torchrun_variables(monkeypatch):
    for key, value in dict(
            SLURM_PROCID=3,
            SLURM_NTASKS=4,
            SLURM_LOCALID=1,
            SLURM_NODELIST='n[1-2]',
            MASTER_ADDR='n1',
            OMPI_COMM_WORLD_RANK=2,
            OMPI_COMM_WORLD_SIZE=4,
            OMPI_COMM_WORLD_LOCAL_RANK=0).items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv('MASTER_PORT', raising=False)
    assert launcher_env(
        'slurm', port=29999) == dict(
            RANK='3', WORLD_SIZE='4', LOCAL_RANK='1', MASTER_PORT='29999')
    assert launcher_env('mpi') == dict(
        RANK='2', WORLD_SIZE='4', LOCAL_RANK='0', MASTER_PORT='29500')
    assert launcher_env('pytorch') == {}
    monkeypatch.delenv('MASTER_ADDR')
    with pytest.raises(KeyError, match='MASTER_ADDR'):
        launcher_env('mpi')


def test_write_atomically_keeps_the_old_file_when_writing_fails(
        tmp_path, monkeypatch):
    target = tmp_path / 'epoch_1.pth'
    write_atomically(b'old', target)

    def power_cut(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', power_cut)
    with pytest.raises(OSError, match='disk full'):
        write_atomically(b'new, half written', target)
    assert target.read_bytes() == b'old'
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']


def test_checkpoints_saved_atomically_and_loaded_with_torch_2_6(
        tmp_path, restore_local_io):
    hub = MessageHub.get_instance('test_checkpoint_io')
    hub.update_scalar('train/loss', 1.5)
    checkpoint = dict(
        state_dict=nn.Linear(2, 2).state_dict(), message_hub=hub.state_dict())
    path = str(tmp_path / 'ckpt.pth')
    write_local_files_atomically()
    assert isinstance(get_file_backend(path), AtomicLocalBackend)
    save_checkpoint(checkpoint, path)
    # torch >= 2.6 refuses mmengine's message hub with weights_only=True
    with pytest.raises(Exception, match='[Ww]eights only load failed'):
        _load_checkpoint(path)
    trust_local_checkpoints()
    loaded = _load_checkpoint(path)
    assert torch.equal(loaded['state_dict']['weight'],
                       checkpoint['state_dict']['weight'])
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 1.5


@pytest.fixture
def damaged_checkpoints(tmp_path):
    """Files named as checkpoints that torch.load cannot read."""
    complete = tmp_path / 'complete.pth'
    torch.save(dict(state_dict=nn.Linear(64, 64).state_dict()), complete)
    files = dict(
        empty=b'',
        text=b'work_dirs/run/epoch_3.pth\n',
        truncated=complete.read_bytes()[:2000])
    for name, data in files.items():
        (tmp_path / f'{name}.pth').write_bytes(data)
    return tmp_path


@pytest.mark.parametrize('name, problem', [
    ('empty', r'the file is empty \(0 bytes\)'),
    ('text', "not a PyTorch checkpoint: .* begins with b'work_dirs/run/e"),
    ('truncated', 'truncated: a zip archive .* of 2000 bytes'),
])
@pytest.mark.parametrize('weights_only', [True, False])
def test_damaged_checkpoint_is_named_with_its_problem(damaged_checkpoints,
                                                      name, problem,
                                                      weights_only):
    path = damaged_checkpoints / f'{name}.pth'
    with pytest.raises(UnreadableCheckpointError) as error:
        read_checkpoint(path, weights_only=weights_only)
    assert str(error.value).startswith(f'{path}: ')
    assert re.search(problem, str(error.value)), str(error.value)
    assert checkpoint_file_problem(path) is not None
    complete = damaged_checkpoints / 'complete.pth'
    assert checkpoint_file_problem(complete) is None
    assert read_checkpoint(complete)['state_dict']['weight'].shape == (64, 64)


def test_tools_loader_names_a_damaged_checkpoint(damaged_checkpoints,
                                                 restore_local_io):
    # what load_from, --resume and tools/test.py read through
    trust_local_checkpoints()
    path = damaged_checkpoints / 'empty.pth'
    with pytest.raises(UnreadableCheckpointError, match=f'{path}: .*empty'):
        _load_checkpoint(str(path))
    with pytest.raises(FileNotFoundError, match='none.pth'):
        _load_checkpoint(str(damaged_checkpoints / 'none.pth'))


def test_stale_temporary_files_are_removed(tmp_path):
    child = subprocess.Popen([sys.executable, '-c', ''])
    child.wait()  # a writer killed while writing
    stale = tmp_path / f'.epoch_3.pth.{child.pid}.tmp'
    live = tmp_path / f'.epoch_4.pth.{os.getpid()}.tmp'  # still writing
    others = [tmp_path / 'epoch_2.pth', tmp_path / '.hidden.tmp']
    for path in (stale, live, *others):
        path.write_bytes(b'x')
    assert remove_stale_temporary_files(tmp_path) == [str(stale)]
    assert sorted(tmp_path.iterdir()) == sorted([live, *others])
    assert remove_stale_temporary_files(tmp_path / 'none') == []


class LinearModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, target=None, mode='tensor'):
        out = self.linear(inputs).squeeze(1)
        return dict(loss=(out - target).square().mean())


def test_last_checkpoint_is_written_atomically(tmp_path, monkeypatch,
                                               restore_local_io):
    written = []

    def recording(data, path):
        written.append((str(path), data))
        write_atomically(data, path)

    monkeypatch.setattr(atomic_checkpoint_hook, 'write_atomically', recording)
    cfg = Config(
        dict(
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=1))))
    write_last_checkpoint_atomically(cfg)
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    data = [
        dict(inputs=torch.randn(2), target=torch.tensor(float(i)))
        for i in range(4)
    ]
    # (the scope the runner sets is undone afterwards)
    with DefaultScope.overwrite_default_scope('mmengine'):
        runner = PortableRunner(
            model=LinearModel(),
            work_dir=str(tmp_path),
            train_dataloader=dict(
                dataset=data,
                sampler=dict(type='DefaultSampler', shuffle=False),
                batch_size=2,
                collate_fn=dict(type='default_collate')),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
            train_cfg=dict(by_epoch=True, max_epochs=2),
            default_hooks=cfg.default_hooks)
        runner.train()
    last = tmp_path / 'last_checkpoint'
    assert written == [(str(last),
                        str(tmp_path / f'epoch_{epoch}.pth').encode())
                       for epoch in (1, 2)]
    assert last.read_text() == str(tmp_path / 'epoch_2.pth')
    assert not list(tmp_path.glob('.*'))
