"""The paper configs follow the papers' official code where it is known
(megvii-model/FunnelAct, nmaac/acon) and keep their own choices where it
is not (DY-ReLU)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope

from tests.paper_configs import CONFIGS, REPO, config_id, flops


def load(path: Path) -> Config:
    cfg = Config.fromfile(str(path))
    init_cfg = cfg.model.backbone.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        cfg.model.backbone.init_cfg = None  # not needed to check structure
    return cfg


def build(cfg: Config, part=None) -> torch.nn.Module:
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(part or cfg.model)


def family(path: Path) -> str:
    return path.parent.name


# -- 1. ResNet: the stride on the first 1x1 conv (FReLU, ACON) ------------

RESNETS = [p for p in CONFIGS if 'resnet50' in p.stem or '_r50' in p.stem]
DOWNSTREAM = [p for p in RESNETS if p.stem.startswith(('retinanet', 'pspnet'))]
#: mmpretrain's name of the stride placement: FReLU and ACON as their
#: official code (the original ResNet), DY-ReLU mmpretrain's default
STYLE = dict(frelu='caffe', acon='caffe', dyrelu='pytorch')


@pytest.mark.parametrize('path', RESNETS, ids=config_id)
def test_resnet_strides_where_the_papers_code_does(path):
    cfg = load(path)
    backbone = build(cfg, cfg.model.backbone)
    assert type(backbone).__name__ == 'ActResNet'
    official = STYLE[family(path)] == 'caffe'
    assert backbone.zero_init_residual is not official
    for stage, stride in enumerate(backbone.strides):
        layer = getattr(backbone, f'layer{stage + 1}')
        first = layer[0]
        assert first.conv1.kernel_size == (1, 1)
        assert first.conv2.kernel_size == (3, 3)
        # caffe: stride on the first 1x1 conv; pytorch: on the 3x3 conv
        assert first.conv1.stride == ((stride, ) * 2 if official else (1, 1))
        assert first.conv2.stride == ((1, 1) if official else (stride, ) * 2)
        assert first.downsample[0].stride == (stride, stride)
        for block in list(layer)[1:]:
            assert block.conv1.stride == block.conv2.stride == (1, 1)


def test_official_resnet_keeps_its_last_norms_at_one():
    cfg = load(REPO / 'configs/frelu/resnet50_relu_8xb32_in1k.py')
    backbone = build(cfg, cfg.model.backbone)
    backbone.init_weights()
    for layer in backbone.res_layers:
        for block in getattr(backbone, layer):
            assert torch.equal(block.norm3.weight,
                               torch.ones_like(block.norm3.weight))


@pytest.mark.parametrize(
    'name',
    ['frelu/resnet50_relu_8xb32_in1k', 'acon/resnet50_meta-acon_8xb32_in1k'])
def test_official_resnet50_flops_are_the_readme_3_9g(name):
    # nmaac/acon README: ResNet-50 (ReLU, ACON-C, Meta-ACON) 3.9G; the
    # stride on the 3x3 conv would give 4.11G
    assert flops(f'configs/{name}.py') == pytest.approx(3.9e9, rel=0.01)


@pytest.mark.parametrize('path', DOWNSTREAM, ids=config_id)
def test_downstream_backbone_is_the_imagenet_network(path):
    cfg = load(path)
    checkpoint = Config.fromfile(str(path)).model.backbone.init_cfg.checkpoint
    imagenet = load(path.parent / (checkpoint.split('/')[1] + '.py'))
    keys = ('depth', 'style', 'zero_init_residual', 'act_cfg',
            'act_positions', 'act_stages')
    assert {k: cfg.model.backbone.get(k) for k in keys} == {
        k: imagenet.model.backbone.get(k) for k in keys}
    assert cfg.model.backbone.style == STYLE[family(path)]


# -- 3. weight decay as the official training code ------------------------

OFFICIAL_RECIPES = [
    p for p in CONFIGS
    if family(p) in ('frelu', 'acon') and p.stem.endswith('_in1k')
] + [p for p in RESNETS if family(p) == 'dyrelu' and p.stem.endswith('_in1k')]


def decay_per_parameter(cfg: Config, model: torch.nn.Module) -> dict:
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    decay = {
        id(p): group['weight_decay']
        for group in optimizer.param_groups for p in group['params']
    }
    trainable = {
        name: p
        for name, p in model.named_parameters() if p.requires_grad
    }
    assert all(id(p) in decay for p in trainable.values())
    return {name: decay[id(p)] for name, p in trainable.items()}


@pytest.mark.parametrize('path', OFFICIAL_RECIPES, ids=config_id)
def test_weight_decay_only_on_conv_and_fc_weights(path):
    cfg = load(path)
    model = build(cfg)
    decay = decay_per_parameter(cfg, model)
    # the official rule (FunnelAct and nmaac/acon get_parameters): decay a
    # parameter iff its name has 'weight' and it has more than one dimension
    base = 4e-5 if 'shufflenet' in path.stem else 1e-4
    shapes = dict(model.named_parameters())
    for name, value in decay.items():
        official = 'weight' in name and shapes[name].dim() > 1
        assert value == (base if official else 0.0), name
    assert any(name.endswith(('.p1', '.funnel_conv.weight', '.fc1.weight'))
               for name in decay) or 'relu' in path.stem


@pytest.mark.parametrize('path', [p for p in DOWNSTREAM if family(p) == 'acon'],
                         ids=config_id)
def test_downstream_acon_parameters_get_no_weight_decay(path):
    cfg = load(path)
    model = build(cfg)
    decay = decay_per_parameter(cfg, model)
    acon = [n for n in decay if n.endswith(('.p1', '.p2'))]
    assert acon and all(decay[n] == 0 for n in acon)
    # the rest as the upstream recipe (no official detection code)
    assert decay['backbone.layer2.0.conv1.weight'] == (
        cfg.optim_wrapper.optimizer.weight_decay)
