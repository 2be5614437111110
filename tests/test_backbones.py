"""ActResNet: placements, stems, dilation, freezing, norm_eval, init."""
import math
import pickle

import pytest
import torch
from mmengine.registry import MODELS
from torch import nn

from mmdynact.models import AconC, DyReLUB, FReLU, MetaAconC
from mmdynact.models.utils import register_lazy

# small widths keep every model here well under a second
SMALL = dict(stem_channels=16, base_channels=8)
FRELU_PAPER = dict(
    act_cfg=dict(type='FReLU'),
    act_positions=('conv1', 'conv2', 'add'),
    act_stages=(0, 1, 2))


def build(type='ActResNet', **kwargs):
    cfg = dict(type=type, depth=50, **SMALL)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def blocks(model):
    for stage, name in enumerate(model.res_layers):
        for block in getattr(model, name):
            yield stage, block


def test_frelu_paper_placement_has_own_layers_with_right_channels():
    model = build(**FRELU_PAPER)
    assert isinstance(model.relu, nn.ReLU)  # the stem is not placed
    seen = set()
    for stage, block in blocks(model):
        for position, channels in (('conv1', block.mid_channels),
                                   ('conv2', block.mid_channels),
                                   ('add', block.out_channels)):
            act = block.act[position]
            if stage < 3:
                assert isinstance(act, FReLU) and act.channels == channels
                assert id(act) not in seen
                seen.add(id(act))
            else:
                assert isinstance(act, nn.ReLU)
    assert not hasattr(model.layer1[0], 'relu')


@pytest.mark.parametrize('act_type, cls', [('MetaAconC', MetaAconC),
                                           ('AconC', AconC)])
def test_acon_after_the_3x3_only(act_type, cls):
    model = build(act_cfg=dict(type=act_type), act_positions=('conv2', ))
    for _, block in blocks(model):
        assert isinstance(block.act['conv2'], cls)
        assert block.act['conv2'].channels == block.mid_channels
        assert isinstance(block.act['conv1'], nn.ReLU)
        assert isinstance(block.act['add'], nn.ReLU)


def test_dyrelu_everywhere_by_default_and_forward_backward():
    model = build(act_cfg=dict(type='DyReLUB'), out_indices=(0, 1, 2, 3))
    assert isinstance(model.relu, DyReLUB) and model.relu.channels == 16
    assert all(
        isinstance(act, DyReLUB) for _, block in blocks(model)
        for act in block.act.values())
    outs = model(torch.randn(2, 3, 32, 32))
    assert [o.shape[1:] for o in outs] == [(32, 8, 8), (64, 4, 4), (128, 2, 2),
                                           (256, 1, 1)]
    sum(o.sum() for o in outs).backward()
    assert model.layer4[-1].act['add'].fc1.weight.grad is not None


def test_relu_model_matches_mmpretrain_resnet():
    from mmpretrain.models import ResNet
    ours, upstream = build(depth=18), ResNet(depth=18, **SMALL)
    ours.load_state_dict(upstream.state_dict())  # same parameter names
    ours.eval(), upstream.eval()
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(ours(x), upstream(x))


def test_basic_block_conv2_means_after_the_3x3():
    model = build(
        depth=18, act_cfg=dict(type='FReLU'), act_positions=('conv2', ))
    block = model.layer2[0]
    assert set(block.act) == {'conv1', 'add'}
    assert isinstance(block.act['conv1'], FReLU)
    assert block.act['conv1'].channels == 16
    assert isinstance(block.act['add'], nn.ReLU)
    model = build(
        depth=18, act_cfg=dict(type='FReLU'), act_positions=('add', ))
    assert isinstance(model.layer2[0].act['conv1'], nn.ReLU)
    assert isinstance(model.layer2[0].act['add'], FReLU)


@pytest.mark.parametrize('kwargs, match', [
    (dict(act_positions=('conv3', )), 'act_positions must be'),
    (dict(act_positions='conv2'), 'act_positions must be'),
    (dict(act_stages=(4, )), r'act_stages must be stage indices in 0\.\.3'),
    (dict(depth=42), 'invalid depth 42'),
])
def test_bad_arguments_name_the_key(kwargs, match):
    with pytest.raises((ValueError, KeyError), match=match):
        build(**kwargs)


@pytest.mark.parametrize('depth', [18, 34, 50, 101, 152])
def test_depths(depth):
    model = build(
        depth=depth,
        num_stages=1,
        out_indices=(0, ),
        strides=(1, ),
        dilations=(1, ),
        act_cfg=dict(type='AconC'))
    assert isinstance(model.layer1[0].act['add'], AconC)
    assert len(model.layer1) == {18: 2}.get(depth, 3)


@pytest.mark.parametrize('type, avg_down', [('ActResNetV1c', False),
                                            ('ActResNetV1d', True)])
def test_deep_stems_get_their_own_activations(type, avg_down):
    model = build(
        type=type, act_cfg=dict(type='FReLU'), act_positions=('stem', ))
    assert [m.activate.channels for m in model.stem] == [8, 8, 16]
    has_pool = isinstance(model.layer2[0].downsample[0], nn.AvgPool2d)
    assert has_pool == avg_down
    assert model(torch.randn(2, 3, 32, 32))[0].shape == (2, 256, 1, 1)


def test_dilation_and_contract_dilation():
    d8 = dict(
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        out_indices=(3, ),
        act_cfg=dict(type='FReLU'))

    def dilations(model, stage):
        return [b.conv2.dilation[0] for b in getattr(model, f'layer{stage}')]

    contracted = build(type='ActResNetV1c', contract_dilation=True, **d8)
    assert dilations(contracted, 3) == [1, 2, 2, 2, 2, 2]
    assert dilations(contracted, 4) == [2, 4, 4]
    assert [b.conv2.padding[0] for b in contracted.layer4] == [2, 4, 4]
    plain = build(type='ActResNetV1c', **d8)
    assert dilations(plain, 3)[0] == 2 and dilations(plain, 4)[0] == 4
    # output stride 8
    assert contracted(torch.randn(2, 3, 64, 64))[0].shape == (2, 256, 8, 8)
    assert pickle.loads(pickle.dumps(contracted)).layer3.block is type(
        contracted.layer3[0])


@pytest.mark.parametrize('type', ['ActResNet', 'ActResNetV1c'])
def test_frozen_stages_freeze_activations(type):
    model = build(type=type, frozen_stages=1, act_cfg=dict(type='FReLU'))
    model.train()
    stem_acts = ([model.relu]
                 if type == 'ActResNet' else [m.activate for m in model.stem])
    for act in stem_acts + list(model.layer1[0].act.values()):
        assert not act.training
        assert not any(p.requires_grad for p in act.parameters())
    assert model.layer2[0].act['add'].training
    assert all(p.requires_grad
               for p in model.layer2[0].act['add'].parameters())


@pytest.mark.parametrize('norm_eval', [True, False])
def test_norm_eval_covers_norms_inside_activations(norm_eval):
    model = build(norm_eval=norm_eval, act_cfg=dict(type='FReLU'))
    model.train()
    funnel_norm = model.layer2[0].act['conv1'].funnel_norm
    assert funnel_norm.training is not norm_eval
    before = funnel_norm.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(funnel_norm.running_mean, before) is norm_eval


def test_backbone_init_cfg_reaches_convs_inside_activations():
    model = build(act_cfg=dict(type='FReLU'), zero_init_residual=True)
    model.init_weights()
    for _, block in blocks(model):
        conv = block.act['add'].funnel_conv
        # Kaiming normal, fan_out: std = sqrt(2 / (C * 3 * 3))
        expected = math.sqrt(2 / conv.weight[:, 0].numel())
        assert abs(conv.weight.std().item() / expected - 1) < 0.25
        norm = block.act['add'].funnel_norm
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))
        assert torch.equal(block.norm3.weight,
                           torch.zeros_like(block.norm3.weight))
    meta = build(act_cfg=dict(type='MetaAconC'), act_positions=('conv2', ))
    meta.init_weights()
    fc1 = meta.layer1[0].act['conv2'].fc1
    assert torch.equal(fc1.bias, torch.zeros_like(fc1.bias))


def test_pretrained_checkpoint_sets_activation_weights(tmp_path):
    source = build(act_cfg=dict(type='MetaAconC'), act_positions=('conv2', ))
    path = str(tmp_path / 'backbone.pth')
    torch.save({'state_dict': source.state_dict()}, path)
    model = build(
        act_cfg=dict(type='MetaAconC'),
        act_positions=('conv2', ),
        init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)


def test_pretrained_checkpoint_is_read_only_by_init_weights():
    # as upstream: building never needs the file (testing a trained model,
    # inference, analysis); tools/train.py checks it before training
    init_cfg = dict(type='Pretrained', checkpoint='missing/resnet50.pth')
    model = build(init_cfg=init_cfg)
    assert model.init_cfg == init_cfg
    with pytest.raises(FileNotFoundError, match='missing/resnet50.pth'):
        model.init_weights()


def test_pretrained_argument_from_segmentors():
    model = build(pretrained='open-mmlab://resnet50_v1c')
    assert model.init_cfg == dict(
        type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')
    with pytest.raises(ValueError, match='either pretrained or init_cfg'):
        build(pretrained='a.pth', init_cfg=dict(type='Kaiming'))


def test_with_cp_gives_the_same_result():
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    results = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        model = build(depth=18, with_cp=with_cp, act_cfg=dict(type='FReLU'))
        out = model(x)[0]
        grad, = torch.autograd.grad(out.square().sum(), x)
        results.append((out, grad))
    torch.testing.assert_close(results[0], results[1])


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain', 'mmpose'])
def test_builds_under_every_toolbox_scope(scope):
    import importlib
    registry = importlib.import_module(f'{scope}.registry').MODELS
    model = registry.build(dict(type='ActResNetV1c', depth=18, **SMALL))
    assert type(model).__name__ == 'ActResNetV1c'


def test_stock_mmpretrain_block_rejects_channel_activations():
    from mmpretrain.models.backbones.resnet import Bottleneck
    with pytest.raises(TypeError, match='FReLU needs the number of channels'):
        Bottleneck(64, 256, act_cfg=dict(type='FReLU'))


def test_lazy_builder_names_the_missing_toolbox():
    register_lazy('_MissingToolboxNet', 'no_such_toolbox.models',
                  'no_such_toolbox', 'det')
    try:
        with pytest.raises(
                ModuleNotFoundError,
                match=r'_MissingToolboxNet is built on '
                r"no_such_toolbox.*pip install 'mmdynact\[det\]'"):
            MODELS.build(dict(type='_MissingToolboxNet'))
    finally:
        MODELS._module_dict.pop('_MissingToolboxNet')
