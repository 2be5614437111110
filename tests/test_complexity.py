"""FLOP and parameter counting of mmdynact's layers and models."""
import runpy
import sys
import warnings
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from torch import nn

from mmdynact import ops
from mmdynact.analysis import (complexity, count, flop_analyzer,
                               model_for_analysis, relu_twin,
                               unhandled_python_ops)
from mmdynact.models import (AconA, AconB, AconC, ChannelActivation, DyReLUA,
                             DyReLUB, DyReLUC, FReLU, MetaAconC)
from mmdynact.ops import backend
from tests.reference_only_layer import FLOPS_PER_ELEMENT

REPO = Path(__file__).resolve().parents[1]
C, H, W = 8, 4, 4
NUMEL = C * H * W  # one sample
POOL = NUMEL  # global average pooling: one add per element


def dyrelu_hyper(coefficients: int) -> int:
    """Pooling + FC(C, C/4) + FC(C/4, 2K C') + sigmoid."""
    hidden = C // 4
    return POOL + C * hidden + hidden * coefficients + coefficients


@pytest.mark.parametrize(
    'layer, expected',
    [
        # funnel: depthwise 3x3 conv, then BN affine + max per element
        (FReLU(C), NUMEL * 9 + NUMEL * 2),
        # K=2 pieces + 1 max per element; A shares 2K coefficients
        (DyReLUA(C), dyrelu_hyper(4) + NUMEL * 3),
        (DyReLUB(C), dyrelu_hyper(4 * C) + NUMEL * 3),
        # + spatial attention: 1x1 conv to one channel, BN (2 per element in
        # mmengine), softmax, and the multiplication by pi
        (DyReLUC(C),
         dyrelu_hyper(4 * C) + NUMEL + 2 * H * W + 3 * H * W + NUMEL * 4),
        (AconA(C), NUMEL * 5),
        (AconB(C), NUMEL * 5),
        (AconC(C), NUMEL * 5),
        # switching network: pooling, 1x1 convs C->16->C, sigmoid
        (MetaAconC(C), POOL + C * 16 * 2 + C + NUMEL * 5),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else '')
def test_layer_flops_count_every_part(layer, expected):
    x = torch.randn(1, C, H, W)
    assert unhandled_python_ops(layer.eval(), (x, )) == []
    flops, params = count(layer, (x, ))
    assert flops == expected
    assert params == sum(p.numel() for p in layer.parameters())


def small_resnet(**kwargs) -> nn.Module:
    return MODELS.build(
        dict(
            type='ActResNet',
            depth=50,
            stem_channels=16,
            base_channels=8,
            **kwargs))


def test_relu_twin_is_the_plain_resnet():
    from mmpretrain.models import ResNet
    model = small_resnet(act_cfg=dict(type='MetaAconC'))
    twin = relu_twin(model)
    assert not any(isinstance(m, ChannelActivation) for m in twin.modules())
    assert any(isinstance(m, MetaAconC) for m in model.modules())
    inputs = (torch.randn(1, 3, 64, 64), )
    plain = ResNet(depth=50, stem_channels=16, base_channels=8)
    assert count(twin, inputs) == count(plain, inputs)


def test_overhead_is_the_activation_layers():
    model = small_resnet(act_cfg=dict(type='FReLU'), act_positions=('conv2', ))
    inputs = (torch.randn(1, 3, 64, 64), )
    result = complexity(model, inputs)
    funnels = [m for m in model.modules() if isinstance(m, FReLU)]
    assert result.params - result.relu_params == sum(p.numel() for f in funnels
                                                     for p in f.parameters())
    # each FReLU: 9 MACs (depthwise 3x3) + 2 per element of its input
    sizes = []
    handles = [
        f.register_forward_hook(
            lambda m, args, out: sizes.append(args[0].numel()))
        for f in funnels
    ]
    model.eval()
    model(*inputs)
    for handle in handles:
        handle.remove()
    extra = 11 * sum(sizes)
    assert result.flops - result.relu_flops == extra
    assert 0 < result.flops_overhead < 0.2


def test_flop_analyzer_reports_our_ops_by_operator():
    analyzer = flop_analyzer(DyReLUC(C).eval(), (torch.randn(1, C, H, W), ))
    ops = analyzer.by_operator()
    # K=2 pieces, a max and pi per element; a sigmoid per coefficient
    # logit (2K per channel); the softmax over the positions
    assert ops['piecewise_linear_max'] == NUMEL * 4 + 4 * C + 3 * H * W
    # counted in the staged path: the pooling, the 1x1 projection to one
    # channel and its batch norm, each by its own handle
    assert ops['mean'] == NUMEL
    assert ops['conv'] == NUMEL
    assert ops['batch_norm'] == 2 * H * W


class Residual(nn.Module):
    """``x + act(conv(x)) * 2``: element-wise ops outside the activation."""

    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(C, C, 1, bias=False)
        self.act = act

    def forward(self, x):
        return x + self.act(self.conv(x)) * 2


def test_reference_only_formula_is_counted_inside_the_layer_only(
        reference_only_layer):
    model = Residual(reference_only_layer(C))
    inputs = (torch.randn(1, C, H, W), )
    result = complexity(model, inputs)
    conv = NUMEL * C  # a 1x1 conv: C multiply-adds per output element
    assert result.relu_flops == conv  # the addition and the product: zero
    assert result.flops == conv + FLOPS_PER_ELEMENT * NUMEL
    by_module = flop_analyzer(model.eval(), inputs).by_module()
    assert by_module['act'] == FLOPS_PER_ELEMENT * NUMEL


def test_uncounted_formula_ops_are_named(reference_only_layer, monkeypatch):
    monkeypatch.setattr(reference_only_layer, 'formula',
                        lambda self, x: torch.sin(x) * self.slope)
    with pytest.warns(
            UserWarning, match="layer 'act' count aten::sin as "
            'zero'):
        flops, _ = count(
            Residual(reference_only_layer(C)), (torch.randn(1, C, H, W), ))
    assert flops == NUMEL * C + NUMEL  # the conv and the product


def test_model_for_analysis_drops_the_checkpoint_and_traces_tensor_mode():
    cfg = Config.fromfile(
        str(REPO / 'configs/frelu/retinanet_r50-frelu_fpn_1x_coco.py'))
    model, inputs = model_for_analysis(cfg, (64, 64))
    assert inputs[0].shape == (1, 3, 64, 64)
    assert model.model.backbone.init_cfg is None
    cls_scores, bbox_preds = model(*inputs)
    assert len(cls_scores) == len(bbox_preds) == 5


def test_get_flops_tool_prints_the_overhead(monkeypatch, capsys):
    config = REPO / 'configs/acon/shufflenet-v2-0.5x_acon-c_16xb64_in1k.py'
    monkeypatch.setattr(
        sys, 'argv',
        ['get_flops.py', str(config), '--shape', '32', '32'])
    monkeypatch.setattr(backend, '_broken', {})
    # with the default backend: tracing must not look like a broken compiler
    with ops.use_backend('auto'), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        runpy.run_path(
            str(REPO / 'tools/analysis_tools/get_flops.py'),
            run_name='__main__')
    assert not [w for w in seen if 'do not work' in str(w.message)]
    assert backend._broken == {}
    out = capsys.readouterr().out
    assert 'input (1, 3, 32, 32)' in out
    assert 'FLOPs overhead: +' in out and 'Params overhead: +' in out
