"""The paper configs follow the papers' official code where it is known
(megvii-model/FunnelAct, nmaac/acon) and state their own choices where it
is not (DY-ReLU)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import MODELS, DefaultScope

from mmdynact.models import DyReLUB, FReLU, MetaAconC
from tests.paper_configs import CONFIGS, REPO, config_id, flops, parameters


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


IMAGENET_RESNETS = [
    p for p in RESNETS
    if p.stem.startswith('resnet50') and family(p) in ('frelu', 'acon')
]


@pytest.mark.parametrize('path', IMAGENET_RESNETS, ids=config_id)
def test_classifier_dropout_as_the_official_code(path):
    # FunnelAct's ResNets (the ReLU one included) drop 20% of the pooled
    # features before the FC layer; nmaac/acon's do not
    model = build(load(path))
    dropout = 0.2 if family(path) == 'frelu' else None
    head = model.head
    assert type(head).__name__ == ('DropoutLinearClsHead'
                                   if dropout else 'LinearClsHead')
    if dropout:
        assert head.dropout.p == dropout


def test_official_resnet_keeps_its_last_norms_at_one():
    cfg = load(REPO / 'configs/frelu/resnet50_relu-dropout_8xb32_in1k.py')
    backbone = build(cfg, cfg.model.backbone)
    backbone.init_weights()
    for layer in backbone.res_layers:
        for block in getattr(backbone, layer):
            assert torch.equal(block.norm3.weight,
                               torch.ones_like(block.norm3.weight))


@pytest.mark.parametrize('name', [
    'frelu/resnet50_relu-dropout_8xb32_in1k',
    'acon/resnet50_meta-acon_8xb32_in1k'
])
def test_official_resnet50_flops_are_the_readme_3_9g(name):
    # nmaac/acon README: ResNet-50 (ReLU, ACON-C, Meta-ACON) 3.9G; the
    # stride on the 3x3 conv would give 4.11G
    assert flops(f'configs/{name}.py') == pytest.approx(3.9e9, rel=0.01)


def network(cfg: Config) -> dict:
    """The backbone arguments that define the network and its activations."""
    keys = ('depth', 'style', 'zero_init_residual', 'act_cfg', 'act_positions',
            'act_stages')
    return {key: cfg.model.backbone.get(key) for key in keys}


@pytest.mark.parametrize('path', DOWNSTREAM, ids=config_id)
def test_downstream_backbone_is_the_imagenet_network(path):
    cfg = load(path)
    checkpoint = Config.fromfile(str(path)).model.backbone.init_cfg.checkpoint
    imagenet = load(path.parent / (checkpoint.split('/')[1] + '.py'))
    assert network(cfg) == network(imagenet)
    assert cfg.model.backbone.style == STYLE[family(path)]


# -- 2. parameter counts of the official ACON README ----------------------


@pytest.mark.parametrize('name, readme_millions', [
    ('acon/shufflenet-v2-0.5x_acon-c_16xb64_in1k', 1.4),
    ('acon/shufflenet-v2-1.5x_acon-c_16xb64_in1k', 3.5),
    ('acon/shufflenet-v2-0.5x_meta-acon_16xb64_in1k', 1.7),
    ('acon/shufflenet-v2-1.5x_meta-acon_16xb64_in1k', 3.9),
    ('frelu/resnet50_relu-dropout_8xb32_in1k', 25.5),
    ('acon/resnet50_acon-c_8xb32_in1k', 25.5),
    ('acon/resnet50_meta-acon_8xb32_in1k', 25.7),
])
def test_parameters_match_the_official_readme(name, readme_millions):
    assert parameters(f'configs/{name}.py') == pytest.approx(
        readme_millions * 1e6, rel=0.03)


@pytest.mark.parametrize('width, r', [('0.5x', 8), ('1.5x', 16)])
def test_meta_acon_shufflenet_v2_reduction_per_width(width, r):
    # official network.py: r=8 for 0.5x only, r=16 for the other widths
    cfg = load(REPO / f'configs/acon/shufflenet-v2-{width}_meta-acon_'
               '16xb64_in1k.py')
    acts = [m for m in build(cfg).modules() if isinstance(m, MetaAconC)]
    assert acts
    for act in acts:
        assert act.fc1.out_channels == max(r, act.channels // r)


# -- 3. weight decay as the official training code ------------------------

OFFICIAL_RECIPES = [
    p for p in CONFIGS
    if family(p) in ('frelu', 'acon') and p.stem.endswith('_in1k')
] + [p for p in RESNETS if family(p) == 'dyrelu' and p.stem.endswith('_in1k')]


def decay_per_parameter(cfg: Config, model: torch.nn.Module) -> dict:
    optimizer = build_optim_wrapper(model, cfg.optim_wrapper).optimizer
    decay = {
        id(p): group['weight_decay']
        for group in optimizer.param_groups
        for p in group['params']
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
    assert any(
        name.endswith(('.p1', '.funnel_conv.weight', '.fc1.weight'))
        for name in decay) or 'relu' in path.stem


@pytest.mark.parametrize(
    'path', [p for p in DOWNSTREAM if family(p) == 'acon'], ids=config_id)
def test_downstream_acon_parameters_get_no_weight_decay(path):
    cfg = load(path)
    model = build(cfg)
    decay = decay_per_parameter(cfg, model)
    acon = [n for n in decay if n.endswith(('.p1', '.p2'))]
    assert acon and all(decay[n] == 0 for n in acon)
    # the rest as the upstream recipe (no official detection code)
    assert decay['backbone.layer2.0.conv1.weight'] == (
        cfg.optim_wrapper.optimizer.weight_decay)


# -- 4. DY-ReLU's reduction: explicit, and an R=8 variant -----------------


def dyrelu_cfgs(node):
    """Every activation config of a DY-ReLU type inside ``node``."""
    if isinstance(node, dict):
        if str(node.get('type', '')).startswith('DyReLU'):
            yield node
        for value in node.values():
            yield from dyrelu_cfgs(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from dyrelu_cfgs(value)


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if family(p) == 'dyrelu'], ids=config_id)
def test_dyrelu_reduction_is_explicit(path):
    cfg = Config.fromfile(str(path))
    found = list(dyrelu_cfgs(cfg.model.to_dict()))
    assert found or 'relu_' in path.stem
    for act_cfg in found:
        assert act_cfg.get('reduction') in (4, 8), act_cfg


@pytest.mark.parametrize('r4, r8', [
    ('resnet50_dyrelu-b_8xb32_in1k', 'resnet50_dyrelu-b-r8_8xb32_in1k'),
    ('mobilenet-v2_dyrelu-b_8xb32_in1k',
     'mobilenet-v2_dyrelu-b-r8_8xb32_in1k'),
])
def test_dyrelu_r8_variant_differs_only_in_the_hidden_layer(r4, r8):
    models = [
        build(load(REPO / 'configs/dyrelu' / f'{name}.py')).backbone
        for name in (r4, r8)
    ]
    shapes = [{n: p.shape for n, p in m.named_parameters()} for m in models]
    assert shapes[0].keys() == shapes[1].keys()
    acts = [[m for m in model.modules() if isinstance(m, DyReLUB)]
            for model in models]
    assert len(acts[0]) == len(acts[1]) > 0
    for reduction, layers in zip((4, 8), acts):
        for act in layers:
            assert act.fc1.out_features == max(act.channels // reduction, 1)
    hidden = {n for n in shapes[0] if '.fc1.' in n or '.fc2.weight' in n}
    assert all(shapes[0][n] == shapes[1][n] for n in shapes[0]
               if n not in hidden)


# -- 5. FReLU placement in ShuffleNetV2 (README wording) ------------------


def test_frelu_shufflenet_v2_places_frelu_after_the_stem_1x1s_and_conv_last():
    from mmcv.cnn import ConvModule
    cfg = load(REPO / 'configs/frelu/shufflenet-v2-0.5x_frelu_16xb64_in1k.py')
    backbone = build(cfg).backbone
    with_frelu = [
        m for m in backbone.modules() if isinstance(m, ConvModule)
        and isinstance(getattr(m, 'activate', None), FReLU)
    ]
    assert with_frelu[0] is backbone.conv1  # the stem 3x3 conv
    assert backbone.conv1.conv.kernel_size == (3, 3)
    assert with_frelu[-1] is backbone.layers[-1]  # conv_last, 1x1
    assert all(m.conv.kernel_size == (1, 1) for m in with_frelu[1:])
    # and nothing else: the depthwise 3x3s stay linear
    assert not any(
        isinstance(m, ConvModule) and m.conv.groups > 1 and m.with_activation
        for m in backbone.modules())
