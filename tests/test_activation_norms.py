"""The norms inside the activations: they follow the builder's norm_cfg
(SyncBN, requires_grad), and any norm type trains inside the one node."""
import copy

import pytest
import torch
from mmcv.cnn import ConvModule
from mmengine.registry import MODELS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdynact import ops
from mmdynact.models.activations import ACTIVATIONS, DyReLUC, FReLU, MetaAconC
from tests.kernel_checks import assert_grads_close, forward_backward

#: layers with norms of their own, with the arguments that enable them
WITH_NORMS = {
    name: dict(with_norm=True) if name == 'MetaAconC' else {}
    for name, cls in ACTIVATIONS.items() if cls.follows_norm_cfg
}


def activation_norms(model: nn.Module):
    return [
        module for layer in model.modules()
        if type(layer).__name__ in WITH_NORMS for module in layer.modules()
        if isinstance(module, (_BatchNorm, nn.GroupNorm))
    ]


def test_the_layers_with_norms():
    assert set(WITH_NORMS) == {'FReLU', 'DyReLUC', 'MetaAconC'}


@pytest.mark.parametrize('name', WITH_NORMS)
@pytest.mark.parametrize('requires_grad', [True, False])
def test_act_resnet_norms_follow_the_backbone(name, requires_grad):
    backbone = MODELS.build(
        dict(
            type='ActResNet',
            depth=18,
            base_channels=8,
            stem_channels=8,
            norm_cfg=dict(type='SyncBN', requires_grad=requires_grad),
            act_cfg=dict(type=name, **WITH_NORMS[name]),
            act_positions=('stem', 'conv2', 'add')))
    norms = activation_norms(backbone)
    assert norms and all(isinstance(n, nn.SyncBatchNorm) for n in norms)
    assert all(p.requires_grad == requires_grad for n in norms
               for p in n.parameters())


@pytest.mark.parametrize('name', WITH_NORMS)
def test_act_cfg_names_its_own_norm(name):
    backbone = MODELS.build(
        dict(
            type='ActResNet',
            depth=18,
            base_channels=8,
            stem_channels=8,
            norm_cfg=dict(type='SyncBN'),
            act_cfg=dict(
                type=name,
                norm_cfg=dict(type='GN', num_groups=1),
                **WITH_NORMS[name]),
            act_positions=('conv2', )))
    norms = activation_norms(backbone)
    assert norms and all(isinstance(n, nn.GroupNorm) for n in norms)


@pytest.mark.parametrize('name', WITH_NORMS)
def test_conv_module_norms_follow_its_norm_cfg(name):
    module = ConvModule(
        4,
        8,
        3,
        norm_cfg=dict(type='SyncBN', requires_grad=False),
        act_cfg=dict(type=name, **WITH_NORMS[name]))
    norms = activation_norms(module)
    assert norms and all(isinstance(n, nn.SyncBatchNorm) for n in norms)
    assert not any(p.requires_grad for n in norms for p in n.parameters())
    plain = ConvModule(4, 8, 3, norm_cfg=None, act_cfg=dict(type=name))
    assert type(plain.activate).__name__ == name  # its own default norm


@pytest.mark.parametrize('backend', ['eager', 'triton'])
@pytest.mark.parametrize(
    'layer', [
        DyReLUC(6, norm_cfg=dict(type='SyncBN')),
        MetaAconC(6, with_norm=True, norm_cfg=dict(type='SyncBN')),
        FReLU(6, norm_cfg=dict(type='SyncBN')),
        DyReLUC(6, norm_cfg=dict(type='GN', num_groups=1)),
        MetaAconC(6, with_norm=True, norm_cfg=dict(type='GN', num_groups=2)),
    ],
    ids=[
        'DyReLUC-SyncBN', 'MetaAconC-SyncBN', 'FReLU-SyncBN', 'DyReLUC-GN',
        'MetaAconC-GN'
    ])
def test_any_norm_trains_like_the_formula(layer, backend):
    # a SyncBN without a process group normalises like a BN, fused; a
    # GroupNorm runs through its module inside the node
    layer = copy.deepcopy(layer).double().train()
    reference = copy.deepcopy(layer)
    x = torch.randn(3, 6, 5, 4, dtype=torch.float64)
    grad = torch.randn_like(x)
    y, grads = forward_backward(layer, x, grad, backend)
    y_ref, grads_ref = forward_backward(reference, x, grad, None)
    torch.testing.assert_close(y, y_ref)
    assert_grads_close(grads, grads_ref)
    for (key, value), expected in zip(layer.state_dict().items(),
                                      reference.state_dict().values()):
        torch.testing.assert_close(value, expected, msg=key)


def test_a_replaced_norm_is_used_from_the_next_call():
    layer = MetaAconC(6, with_norm=True).double()
    x = torch.randn(2, 6, 4, 4, dtype=torch.float64)
    with ops.use_backend('eager'):
        layer(x)
        layer.norm1 = nn.GroupNorm(2, layer.norm1.num_features).double()
        torch.testing.assert_close(layer(x), layer.formula(x))
