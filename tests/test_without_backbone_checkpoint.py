"""A trained model is usable without the ImageNet checkpoint it started from.

The downstream configs of the papers start their backbone from the ImageNet
run of the same folder (``init_cfg=dict(type='Pretrained', checkpoint=
'work_dirs/<backbone>/epoch_*.pth')``). As upstream, only training reads it:
every other entry point builds the model and loads the trained weights. Here
the tiny detector and segmentor configs get the papers' ``init_cfg`` back,
with the ImageNet checkpoint missing, and each entry point runs on them.
"""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmdynact.cli import get_flops, plot_activations
from mmdynact.cli import train as train_tool
from mmdynact.models.utils import (check_pretrained_checkpoints,
                                   missing_pretrained_checkpoints)
from tests.tiny_workspace import (DET_CONFIG, REPO, SEG_CONFIG,
                                  last_checkpoint, read_test_metrics,
                                  run_python)

PAPER_DET = REPO / 'configs/dyrelu/retinanet_r50-dyrelu-b_fpn_1x_coco.py'
PAPER_SEG = REPO / 'configs/frelu/pspnet_r50-d8-frelu_4xb2-80k_cityscapes-' \
    '512x1024.py'
MISSING_KEY = 'model.backbone.init_cfg.checkpoint'


def _with_paper_init(tiny: Path, paper: Path, workspace: Path,
                     folder: Path) -> Path:
    """``tiny`` with the backbone ``init_cfg`` of ``paper``, written out."""
    init_cfg = Config.fromfile(str(paper)).model.backbone.init_cfg
    assert init_cfg.type == 'Pretrained'
    assert init_cfg.checkpoint.startswith('work_dirs/')
    assert not (workspace / init_cfg.checkpoint).exists()
    cfg = Config.fromfile(str(tiny))
    cfg.model.backbone.init_cfg = init_cfg
    path = folder / tiny.name
    cfg.dump(str(path))
    return path


@pytest.fixture(scope='module')
def det_config(tiny_workspace, tmp_path_factory) -> Path:
    return _with_paper_init(DET_CONFIG, PAPER_DET, tiny_workspace,
                            tmp_path_factory.mktemp('det_config'))


@pytest.fixture(scope='module')
def seg_config(tiny_workspace, tmp_path_factory) -> Path:
    return _with_paper_init(SEG_CONFIG, PAPER_SEG, tiny_workspace,
                            tmp_path_factory.mktemp('seg_config'))


@pytest.fixture
def full_checkpoint_loading(monkeypatch):
    """What users of mmengine 0.10.7's loaders set with torch >= 2.6.

    The runner's checkpoints hold more than tensors (the message hub);
    mmdynact's tools load them in full themselves.
    """
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')


def _assert_trained_weights(model: torch.nn.Module, checkpoint: Path):
    state = torch.load(
        checkpoint, map_location='cpu', weights_only=False)['state_dict']
    loaded = model.state_dict()
    for key in ('backbone.conv1.weight', 'backbone.layer4.1.conv2.weight'):
        torch.testing.assert_close(loaded[key], state[key])


def test_training_stops_before_building_anything(det_config, tmp_path,
                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    work_dir = tmp_path / 'work'
    with pytest.raises(FileNotFoundError) as error:
        train_tool.main([str(det_config), '--work-dir', str(work_dir)])
    message = str(error.value)
    assert f"{MISSING_KEY}='work_dirs/" in message
    assert f'--cfg-options {MISSING_KEY}=<path>' in message
    assert 'model.backbone.init_cfg=None' in message
    assert not work_dir.exists()  # no runner, no data set was built


def test_tools_test(det_config, trained_detector, tiny_workspace, tmp_path):
    # (score_thr=0: the briefly trained detector's scores are low)
    run_python(tiny_workspace, 'tools/test.py', det_config,
               last_checkpoint(trained_detector), '--work-dir', tmp_path,
               '--cfg-options', 'model.test_cfg.score_thr=0')
    assert 'coco/bbox_mAP' in read_test_metrics(tmp_path)


@pytest.mark.parametrize('cfg_options', [None, {'model.test_cfg.nms_pre': 50}])
def test_mmdet_init_detector_and_inference(cfg_options, det_config,
                                           trained_detector, tiny_workspace,
                                           full_checkpoint_loading):
    # with cfg_options, mmdet keeps the backbone's init_cfg as it is
    from mmdet.apis import inference_detector, init_detector
    checkpoint = last_checkpoint(trained_detector)
    model = init_detector(
        str(det_config),
        str(checkpoint),
        device='cpu',
        cfg_options=cfg_options)
    kept = model.cfg.model.backbone.init_cfg
    assert (kept is not None) == (cfg_options is not None)
    _assert_trained_weights(model, checkpoint)
    image = next((tiny_workspace / 'data/tiny/coco/val2017').glob('*.jpg'))
    result = inference_detector(model, str(image))
    assert result.pred_instances.bboxes.shape[1] == 4


def test_mmseg_init_model_and_inference(seg_config, trained_segmentor,
                                        tiny_workspace,
                                        full_checkpoint_loading):
    from mmseg.apis import inference_model, init_model
    checkpoint = last_checkpoint(trained_segmentor)
    model = init_model(str(seg_config), str(checkpoint), device='cpu')
    _assert_trained_weights(model, checkpoint)
    image = next((tiny_workspace /
                  'data/tiny/cityscapes').glob('leftImg8bit/val/*/*.png'))
    result = inference_model(model, str(image))
    assert result.pred_sem_seg.data.shape[-2:] == (64, 128)


def test_get_flops_tool(det_config, capsys):
    get_flops.main([str(det_config), '--shape', '64', '64'])
    out = capsys.readouterr().out
    assert 'input (1, 3, 64, 64)' in out and 'FLOPs overhead: +' in out


def test_plot_activations_tool(det_config, trained_detector, tiny_workspace,
                               tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_workspace)  # the config's data/tiny/coco
    plot_activations.main([
        str(det_config),
        str(last_checkpoint(trained_detector)), '--num-images', '1',
        '--layers', r'backbone\.layer1\.', '--out-dir',
        str(tmp_path)
    ])
    assert (tmp_path / 'dyrelu_curves.png').stat().st_size > 0
    assert 'DyReLUB' in (tmp_path / 'summary.txt').read_text()


def test_pretrained_checkpoints_anywhere_in_the_model_are_found(tmp_path):
    present = tmp_path / 'present.pth'
    present.write_bytes(b'')
    model = dict(
        pretrained='seg.pth',
        backbone=dict(init_cfg=[
            dict(type='Kaiming', layer='Conv2d'),
            dict(type='Pretrained', checkpoint=str(present)),
            dict(type='Pretrained', checkpoint=None),
        ]),
        neck=[dict(init_cfg=dict(type='Pretrained', checkpoint='neck.pth'))],
        head=dict(
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet50')))
    assert missing_pretrained_checkpoints(model) == [
        ('model.pretrained', 'seg.pth'),
        ('model.backbone.init_cfg[2].checkpoint', None),
        ('model.neck[0].init_cfg.checkpoint', 'neck.pth'),
    ]
    with pytest.raises(
            FileNotFoundError,
            match=r"model.pretrained='seg.pth'(.|\n)*"
            'set model.pretrained=None'):
        check_pretrained_checkpoints(model)
    check_pretrained_checkpoints(dict(backbone=model['head']))
