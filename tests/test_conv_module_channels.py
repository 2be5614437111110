"""act_cfg without channels in mmcv's ConvModule, and nothing else changed."""
import pytest
import torch
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule

from mmdynact.models.activations import (ACTIVATIONS, ChannelActivation,
                                         DyReLUB, FReLU, activation_channels,
                                         patch_conv_module)

ORIGINAL_INIT = ConvModule.__init__.__wrapped__


def build_unpatched(*args, **kwargs):
    module = ConvModule.__new__(ConvModule)
    ORIGINAL_INIT(module, *args, **kwargs)
    return module


@pytest.mark.parametrize(
    'kwargs', [
        dict(),
        dict(act_cfg=None),
        dict(act_cfg=dict(type='ReLU'), inplace=False),
        dict(act_cfg=dict(type='LeakyReLU', negative_slope=0.2)),
        dict(act_cfg=dict(type='Tanh')),
        dict(act_cfg=dict(type='HSwish')),
        dict(act_cfg=dict(type='PReLU')),
        dict(norm_cfg=dict(type='BN'), order=('act', 'conv', 'norm')),
        dict(norm_cfg=dict(type='BN'), order=('norm', 'act', 'conv')),
        dict(
            act_cfg=dict(
                type='FReLU',
                channels=8,
                norm_cfg=dict(type='GN', num_groups=2)),
            norm_cfg=dict(type='BN')),
    ],
    ids=str)
def test_other_configs_build_exactly_as_mmcv(kwargs):
    torch.manual_seed(0)
    ours = ConvModule(4, 8, 3, padding=1, **kwargs)
    torch.manual_seed(0)
    theirs = build_unpatched(4, 8, 3, padding=1, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.act_cfg == theirs.act_cfg
    assert ours.order == theirs.order
    for (name, a), (_, b) in zip(ours.state_dict().items(),
                                 theirs.state_dict().items()):
        assert torch.equal(a, b), name
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(ours(x), theirs(x))


@pytest.mark.parametrize('act', list(ACTIVATIONS))
def test_channels_come_from_out_channels(act):
    module = ConvModule(
        4, 8, 3, padding=1, norm_cfg=dict(type='BN'), act_cfg=dict(type=act))
    assert isinstance(module.activate, ChannelActivation)
    assert module.activate.channels == 8
    expected = dict(type=act, channels=8)
    if ACTIVATIONS[act].follows_norm_cfg:  # its norms are the ConvModule's
        expected['norm_cfg'] = dict(type='BN')
    assert module.act_cfg == expected
    # parameters exist right after construction (DDP, optimizers, init)
    assert any(True for _ in module.activate.parameters())
    y = module(torch.randn(2, 4, 6, 6))
    assert y.shape == (2, 8, 6, 6)


def test_activation_before_conv_takes_in_channels():
    module = ConvModule(
        4,
        8,
        1,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='DyReLUB'),
        order=('norm', 'act', 'conv'))
    assert module.activate.channels == 4
    assert module(torch.randn(2, 4, 5, 5)).shape == (2, 8, 5, 5)


def test_positional_arguments_and_class_types():
    module = ConvModule(4, 8, 3, 1, 1, 1, 1, 'auto', None, None,
                        dict(type=DyReLUB))
    assert module.activate.channels == 8


def test_explicit_channels_win():
    module = ConvModule(
        4, 8, 1, act_cfg=dict(type='FReLU', channels=8, kernel_size=5))
    assert module.activate.kernel_size == 5


def test_depthwise_separable_module():
    module = DepthwiseSeparableConvModule(
        4,
        8,
        3,
        padding=1,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='FReLU'))
    assert module.depthwise_conv.activate.channels == 4
    assert module.pointwise_conv.activate.channels == 8
    assert module(torch.randn(2, 4, 6, 6)).shape == (2, 8, 6, 6)


def test_user_config_is_not_modified():
    act_cfg = dict(type='DyReLUB')
    ConvModule(4, 8, 1, act_cfg=act_cfg)
    assert act_cfg == dict(type='DyReLUB')


def test_patch_is_applied_once():
    before = ConvModule.__init__
    patch_conv_module()
    assert ConvModule.__init__ is before


def test_activation_channels_rules():
    order = ('conv', 'norm', 'act')
    assert activation_channels(None, 4, 8, order) is None
    assert activation_channels(dict(type='ReLU'), 4, 8, order) is None
    assert activation_channels(dict(type=FReLU), 4, 8, order) == 8
    assert activation_channels(
        dict(type='FReLU'), 4, 8, ('act', 'conv', 'norm')) == 4


def test_upstream_backbones_take_our_act_cfg():
    from mmpretrain.models.backbones import MobileNetV2, ShuffleNetV2
    for backbone in [
            MobileNetV2(widen_factor=0.25, act_cfg=dict(type='DyReLUB')),
            ShuffleNetV2(widen_factor=0.5, act_cfg=dict(type='FReLU'))
    ]:
        acts = [
            m for m in backbone.modules() if isinstance(m, ChannelActivation)
        ]
        assert acts
        outs = backbone(torch.randn(2, 3, 32, 32))
        outs[-1].mean().backward()
        assert all(p.grad is not None for m in acts for p in m.parameters())


def test_mmdet_fpn_and_mmseg_heads_take_our_act_cfg():
    from mmdet.models.necks import FPN
    from mmseg.models.decode_heads import FCNHead, PSPHead
    fpn = FPN([8, 16], 8, 2, act_cfg=dict(type='DyReLUB'))
    outs = fpn((torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8)))
    assert [o.shape[1] for o in outs] == [8, 8]
    assert fpn.fpn_convs[0].activate.channels == 8
    for head_cls, extra in [(PSPHead, dict(pool_scales=(1, 2))),
                            (FCNHead, dict(num_convs=1))]:
        head = head_cls(
            in_channels=16,
            channels=8,
            num_classes=3,
            norm_cfg=dict(type='BN'),
            act_cfg=dict(type='MetaAconC'),
            **extra)
        logits = head([torch.randn(2, 16, 8, 8)])
        assert logits.shape == (2, 3, 8, 8)
        acts = [
            m.activate for m in head.modules() if isinstance(m, ConvModule)
        ]
        assert acts and all(a.channels == 8 for a in acts)


def test_mmpose_mobilenet_v2_takes_our_act_cfg():
    from mmpose.models.backbones import MobileNetV2
    backbone = MobileNetV2(widen_factor=0.25, act_cfg=dict(type='DyReLUC'))
    out = backbone(torch.randn(2, 3, 32, 32))
    assert out[-1].shape[1] == backbone.conv2.activate.channels
