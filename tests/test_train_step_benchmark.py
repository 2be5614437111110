"""The train-step benchmark steps real models of all four toolboxes on
synthetic batches (the tool itself is run in test_benchmark_tools.py)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmdynact.analysis.synthetic_batch import synthetic_batch
from mmdynact.analysis.train_step_benchmark import (StepTiming, TrainStep,
                                                    benchmark, table)

REPO = Path(__file__).resolve().parents[1]
TINY = {
    'mmpretrain': ('mobilenet-v2_dyrelu-b_tiny-imagenet.py', (32, 32)),
    'mmdet': ('retinanet_r18-dyrelu-b_fpn_tiny-coco.py', (64, 64)),
    'mmseg': ('pspnet_r18-d8-frelu_tiny-cityscapes.py', (32, 64)),
    'mmpose': ('td-hm_mobilenetv2-dyrelu_tiny-coco-64x64.py', (64, 64)),
}


def tiny_config(scope: str) -> Config:
    return Config.fromfile(str(REPO / 'configs/_tiny_' / TINY[scope][0]))


@pytest.mark.parametrize('scope', list(TINY))
def test_a_step_trains_the_model_on_a_synthetic_batch(scope):
    step = TrainStep(
        tiny_config(scope), 2, TINY[scope][1], torch.device('cpu'), 'none')
    assert step.model.training
    before = [p.detach().clone() for p in step.model.parameters()]
    host_seconds = step()
    assert host_seconds > 0
    changed = [
        not torch.equal(b, p.detach())
        for b, p in zip(before, step.model.parameters())
    ]
    assert sum(changed) > len(changed) // 2  # the optimizer stepped


def test_synthetic_batches_follow_the_config():
    cfg = tiny_config('mmdet')
    batch = synthetic_batch(cfg, 3, (40, 56))
    assert [tuple(image.shape)
            for image in batch['inputs']] == [(3, 40, 56)] * 3
    labels = torch.cat([s.gt_instances.labels for s in batch['data_samples']])
    assert labels.max() < cfg.model.bbox_head.num_classes
    seg = synthetic_batch(tiny_config('mmseg'), 2, (16, 24))
    assert seg['data_samples'][0].gt_sem_seg.data.shape == (1, 16, 24)
    pose = synthetic_batch(tiny_config('mmpose'), 2, (64, 48))
    heatmaps = pose['data_samples'][0].gt_fields.heatmaps
    assert heatmaps.shape[0] == tiny_config('mmpose').model.head.out_channels
    with pytest.raises(ValueError, match="default_scope='mmocr'"):
        synthetic_batch(Config(dict(default_scope='mmocr')), 1, (8, 8))


def test_benchmark_times_every_config_and_compares_with_the_first():
    cfg = tiny_config('mmpretrain')
    relu = tiny_config('mmpretrain')
    relu.model.backbone.act_cfg = dict(type='ReLU6')
    timings = benchmark(
        dict(relu=relu, dyrelu=cfg),
        batch=2,
        iters=2,
        warmup=1,
        device=torch.device('cpu'),
        amp='bf16',
        shape=(32, 32))
    assert [t.config for t in timings] == ['relu', 'dyrelu']
    for t in timings:
        assert t.step_ms > 0 and t.host_ms > 0 and t.peak_memory_gib is None
        assert t.images_per_s == pytest.approx(2e3 / t.step_ms)
    text = table(timings, 'relu')
    assert '| relu |' in text and '| baseline |' in text
    ratio = timings[1].step_ms / timings[0].step_ms
    assert f'| {ratio:.2f}x |' in text


def test_table_marks_missing_memory():
    timings = [
        StepTiming('a', 10.0, 1.0, 100.0, 1.5),
        StepTiming('b', 20.0, 2.0, 50.0, None)
    ]
    lines = table(timings, 'a').splitlines()
    assert lines[2] == '| a | 10.0 | 1.0 | 100.0 | 1.50 | baseline |'
    assert lines[3] == '| b | 20.0 | 2.0 | 50.0 | - | 2.00x |'
