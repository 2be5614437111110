"""Every config loads, builds its model on CPU and trains one step."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import HOOKS, MODELS, DefaultScope

from mmdynact.models.utils import check_pretrained_checkpoints
from tests.paper_configs import CONFIGS, FAMILIES, REPO, config_id

SIZE = 32  # tiny images


def load(path: Path) -> Config:
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports == dict(
        imports=['mmdynact'], allow_failed_imports=False)
    return cfg


def without_checkpoint(cfg: Config) -> Config:
    """The config with its backbone's Pretrained init removed."""
    init_cfg = cfg.model.backbone.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        cfg.model.backbone.init_cfg = None
    return cfg


def image(rng: torch.Generator) -> torch.Tensor:
    return torch.randint(
        0, 256, (3, SIZE, SIZE), generator=rng, dtype=torch.uint8)


def fake_cls_batch(rng):
    from mmpretrain.structures import DataSample
    return dict(
        inputs=[image(rng) for _ in range(2)],
        data_samples=[DataSample().set_gt_label(i) for i in (3, 7)])


def fake_det_batch(rng):
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(
        2, [[3, SIZE, SIZE]] * 2, num_items=[3, 2], num_classes=80)


def fake_seg_batch(rng):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for _ in range(2):
        sample = SegDataSample(
            metainfo=dict(
                img_shape=(SIZE, SIZE),
                ori_shape=(SIZE, SIZE),
                pad_shape=(SIZE, SIZE)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 19, (1, SIZE, SIZE), generator=rng))
        samples.append(sample)
    return dict(inputs=[image(rng) for _ in range(2)], data_samples=samples)


def fake_pose_batch(rng):
    from mmpose.testing import get_packed_inputs

    # MobileNetV2 (stride 32) + three x2 deconvs: 32x32 -> 8x8 heatmaps
    return get_packed_inputs(
        batch_size=2,
        img_shape=(SIZE, SIZE),
        input_size=(SIZE, SIZE),
        heatmap_size=(SIZE // 4, SIZE // 4),
        with_reg_label=False,
        with_simcc_label=False)


FAKE_BATCH = dict(
    mmpretrain=fake_cls_batch,
    mmdet=fake_det_batch,
    mmseg=fake_seg_batch,
    mmpose=fake_pose_batch)


def test_configs_are_found():
    # every paper folder of the model index has configs (that the index
    # lists exactly these is tests/test_model_index.py's)
    assert {p.parent.name for p in CONFIGS} == set(FAMILIES)


@pytest.mark.parametrize('path', CONFIGS, ids=config_id)
def test_config_trains_one_step_on_cpu(path):
    cfg = without_checkpoint(load(path))
    scope = cfg.default_scope
    if scope == 'mmseg':  # the config pads to the 512x1024 crop
        cfg.model.data_preprocessor.size = (SIZE, SIZE)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
        for hook in cfg.get('custom_hooks', []):
            HOOKS.build(hook)
    model.train()
    rng = torch.Generator().manual_seed(0)
    data = model.data_preprocessor(FAKE_BATCH[scope](rng), True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.backbone.parameters() if p.requires_grad]
    assert grads and all(
        g is not None and torch.isfinite(g).all() for g in grads)


PRETRAINED = [p for p in CONFIGS if p.stem.startswith(('retinanet', 'pspnet'))]


@pytest.mark.parametrize('path', PRETRAINED, ids=config_id)
def test_missing_imagenet_checkpoint_is_reported_before_training(
        path, tmp_path):
    cfg = load(path)
    init_cfg = cfg.model.backbone.init_cfg
    # by default, where the matching ImageNet config saves its last epoch
    imagenet_config = init_cfg.checkpoint.split('/')[1]
    assert (REPO / 'configs' / path.parent.name /
            f'{imagenet_config}.py').exists()
    assert init_cfg.prefix == 'backbone.'
    init_cfg.checkpoint = str(tmp_path / 'missing.pth')
    # the model builds without it (as upstream); tools/train.py checks it
    with pytest.raises(
            FileNotFoundError, match='model.backbone.init_cfg.checkpoint='):
        check_pretrained_checkpoints(cfg.model)


def test_dyrelu_pose_config_puts_dyrelu_c_in_the_head():
    from mmdynact.models import DyReLUB, DyReLUC
    cfg = without_checkpoint(
        load(REPO / 'configs/dyrelu/td-hm_mobilenetv2-dyrelu_8xb64-210e_coco-'
             '256x192.py'))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    head_acts = [m for m in model.head.deconv_layers if isinstance(m, DyReLUC)]
    assert [a.channels for a in head_acts] == [256, 256, 256]
    assert not any(isinstance(m, torch.nn.ReLU) for m in model.head.modules())
    assert any(isinstance(m, DyReLUB) for m in model.backbone.modules())
    hooks = [h.type for h in cfg.custom_hooks]
    assert hooks == ['SyncBuffersHook', 'DyReLUTemperatureHook']


PSPNET = [p for p in CONFIGS if p.stem.startswith('pspnet')]


def _norm_cfgs(node, where: str):
    """``(key path, norm_cfg)`` of every ``norm_cfg`` below ``node``.

    The activations' own ``act_cfg`` are left out: their norms follow the
    backbone's ``norm_cfg`` where they are built.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'norm_cfg':
                yield f'{where}.{key}', value
            elif key != 'act_cfg':
                yield from _norm_cfgs(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _norm_cfgs(value, f'{where}[{i}]')


@pytest.mark.parametrize('path', PSPNET, ids=config_id)
def test_pspnet_configs_use_sync_bn_as_mmseg(path):
    # mmseg's PSPNet (and the papers' Cityscapes runs): BN statistics over
    # all GPUs, not over the 2 images of one
    cfg = load(path)
    norms = dict(_norm_cfgs(cfg.model.to_dict(), 'model'))
    assert {
        'model.backbone.norm_cfg', 'model.decode_head.norm_cfg',
        'model.auxiliary_head.norm_cfg'
    } <= set(norms)
    assert {
        where: norm['type']
        for where, norm in norms.items()
    } == dict.fromkeys(norms, 'SyncBN')
    assert 'sync_bn' not in cfg  # nothing to add on a cluster


@pytest.mark.parametrize('path', PSPNET, ids=config_id)
def test_every_norm_of_a_cityscapes_model_is_sync_bn(path):
    # the activations' own norms (FReLU's funnel, DY-ReLU-C's spatial norm,
    # Meta-ACON's switching network) follow the backbone's SyncBN too
    cfg = without_checkpoint(load(path))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    norms = [
        name for name, module in model.named_modules()
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
    ]
    activation_norms = [name for name in norms if '.act' in name]
    assert activation_norms or 'dyrelu' in str(path)
    assert [
        name for name, module in model.named_modules()
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
        and not isinstance(module, torch.nn.SyncBatchNorm)
    ] == []


def test_meta_acon_detector_trains_at_one_image_per_gpu():
    # the backbone's norm_eval keeps the switching networks' batch norms in
    # eval mode, so a batch of one trains (mmdet at 1 image per GPU)
    cfg = without_checkpoint(
        load(REPO / 'configs/acon/retinanet_r50-meta-acon_fpn_1x_coco.py'))
    assert cfg.model.backbone.norm_eval
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        backbone = MODELS.build(cfg.model.backbone)
    backbone.train()
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    sum(feature.square().mean() for feature in backbone(x)).backward()
    assert torch.isfinite(x.grad).all()
