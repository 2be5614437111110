"""DyReLUTemperatureHook in a real mmengine Runner."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmdynact.engine import DyReLUTemperatureHook
from mmdynact.models.activations import DyReLUC


class TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.act = DyReLUC(4, temperature=1.0)

    def forward(self, inputs, target=None, mode='tensor'):
        # default_collate gives stacked batches
        out = self.act(self.conv(inputs))
        if mode == 'loss':
            return dict(loss=(out.mean((1, 2, 3)) - target).square().mean())
        return out


class RandomImages(Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        return dict(
            inputs=torch.randn(3, 6, 6, generator=g),
            target=torch.tensor(float(index)))


@HOOKS.register_module(force=True)
class _RecordTemperature(Hook):
    priority = 'LOW'  # after the temperature hook

    def __init__(self):
        self.seen = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.seen.append(runner.model.act.temperature)


def run(tmp_path, by_epoch, anneal):
    recorder = _RecordTemperature()
    runner = Runner(
        model=TinyModel(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=RandomImages(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        custom_hooks=[
            dict(
                type='DyReLUTemperatureHook',
                start=10.0,
                end=1.0,
                anneal=anneal,
                by_epoch=by_epoch), recorder
        ],
        default_hooks=dict(checkpoint=None, logger=None),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING')
    runner.train()
    return recorder.seen, runner.model.act.temperature


def test_anneals_by_epoch(tmp_path):
    seen, final = run(tmp_path, by_epoch=True, anneal=2)
    # 2 iterations per epoch: epochs 0, 1 anneal 10 -> 1, epoch 2 at 1
    assert seen == pytest.approx([10.0, 10.0, 5.5, 5.5, 1.0, 1.0])
    assert final == 1.0


def test_anneals_by_iteration(tmp_path):
    seen, _ = run(tmp_path, by_epoch=False, anneal=4)
    assert seen == pytest.approx([10.0, 7.75, 5.5, 3.25, 1.0, 1.0])


def test_schedule_and_bad_arguments():
    hook = DyReLUTemperatureHook(start=9.0, end=1.0, anneal=8)
    assert [hook.temperature_at(p) for p in (0, 4, 8, 100)] == [9, 5, 1, 1]
    with pytest.raises(ValueError, match='start and end must be > 0'):
        DyReLUTemperatureHook(start=0.0)
    with pytest.raises(ValueError, match='anneal must be >= 0'):
        DyReLUTemperatureHook(anneal=-1)


def test_model_without_dyrelu_c_is_an_error(tmp_path):
    runner = type('R', (), {'model': torch.nn.Conv2d(1, 1, 1)})()
    with pytest.raises(ValueError, match='no DyReLUC layer'):
        DyReLUTemperatureHook().before_train(runner)
