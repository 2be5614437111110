"""Converters of the official ACON / Meta-ACON checkpoints (nmaac/acon).

The official networks are rebuilt here from the published architecture
(module names as in the official code), with random weights, conv biases and
batch-norm statistics; the converted checkpoints must load strictly into our
backbones and compute the same logits.
"""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import load_checkpoint
from torch import nn

from mmdynact.cli.convert import acon_resnet, acon_shufflenet_v2
from mmdynact.converters import (convert_acon_resnet,
                                 convert_acon_shufflenet_v2, convert_file,
                                 shufflenet_v2_channel_maps)
from mmdynact.engine import UnreadableCheckpointError


def _act(kind, width, r=16):
    return OfficialAconC(width) if kind == 'acon' else OfficialMetaAconC(
        width, r)


class OfficialAconC(nn.Module):
    """``(p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``."""

    def __init__(self, width):
        super().__init__()
        self.p1 = nn.Parameter(torch.randn(1, width, 1, 1))
        self.p2 = nn.Parameter(torch.randn(1, width, 1, 1))
        self.beta = nn.Parameter(torch.randn(1, width, 1, 1))

    def switching(self, x):
        return self.beta

    def forward(self, x):
        dx = (self.p1 - self.p2) * x
        return dx * torch.sigmoid(self.switching(x) * dx) + self.p2 * x


class OfficialMetaAconC(OfficialAconC):
    """beta from pooled x: fc1 (to max(r, width // r)), bn1, fc2, bn2."""

    def __init__(self, width, r):
        super().__init__(width)
        del self.beta
        hidden = max(r, width // r)
        self.fc1 = nn.Conv2d(width, hidden, 1)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, width, 1)
        self.bn2 = nn.BatchNorm2d(width)

    def switching(self, x):
        pooled = x.mean(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.bn2(self.fc2(self.bn1(self.fc1(pooled)))))


class OfficialBottleneck(nn.Module):
    """Stride in the first 1x1 conv, biased convs, ACON after the 3x3."""

    def __init__(self, kind, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.acon = _act(kind, planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride != 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * 4, 1, stride),
                nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.acon(self.bn2(self.conv2(out)))))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class OfficialResNet50(nn.Module):

    def __init__(self, kind, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(64)
        inplanes = 64
        for index, (planes, blocks) in enumerate(
                zip((64, 128, 256, 512), (3, 4, 6, 3))):
            layer = []
            for block in range(blocks):
                stride = 2 if block == 0 and index > 0 else 1
                layer.append(
                    OfficialBottleneck(kind, inplanes, planes, stride))
                inplanes = planes * 4
            setattr(self, f'layer{index + 1}', nn.Sequential(*layer))
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for index in range(1, 5):
            x = getattr(self, f'layer{index}')(x)
        return self.fc(x.mean(dim=(2, 3)))


def _conv_bn(inp, out, ksize, stride=1, groups=1):
    return [
        nn.Conv2d(inp, out, ksize, stride, ksize // 2, groups=groups),
        nn.BatchNorm2d(out)
    ]


class OfficialShuffleBlock(nn.Module):
    """Megvii ShuffleNetV2 block: even channels pass, odd ones transform."""

    def __init__(self, kind, inp, oup, mid, stride, r):
        super().__init__()
        self.stride = stride
        outputs = oup - inp
        self.branch_main = nn.Sequential(*_conv_bn(inp, mid, 1),
                                         _act(kind, mid, r),
                                         *_conv_bn(mid, mid, 3, stride, mid),
                                         *_conv_bn(mid, outputs, 1),
                                         _act(kind, outputs, r))
        if stride == 2:
            self.branch_proj = nn.Sequential(
                *_conv_bn(inp, inp, 3, stride, inp), *_conv_bn(inp, inp, 1),
                _act(kind, inp, r))

    def forward(self, x):
        if self.stride == 2:
            return torch.cat((self.branch_proj(x), self.branch_main(x)), 1)
        return torch.cat((x[:, 0::2], self.branch_main(x[:, 1::2])), 1)


class OfficialShuffleNetV2(nn.Module):

    def __init__(self,
                 kind,
                 stage_channels=(48, 96, 192),
                 num_classes=10,
                 r=8):
        super().__init__()
        self.first_conv = nn.Sequential(*_conv_bn(3, 24, 3, 2),
                                        _act(kind, 24, r))
        features, inp = [], 24
        for channels, repeats in zip(stage_channels, (4, 8, 4)):
            for index in range(repeats):
                first = index == 0
                features.append(
                    OfficialShuffleBlock(kind, inp if first else inp // 2,
                                         channels, channels // 2,
                                         2 if first else 1, r))
                inp = channels
        self.features = nn.Sequential(*features)
        self.conv_last = nn.Sequential(*_conv_bn(inp, 1024, 1),
                                       _act(kind, 1024, r))
        self.classifier = nn.Sequential(nn.Linear(1024, num_classes))

    def forward(self, x):
        x = F.max_pool2d(self.first_conv(x), 3, 2, 1)
        x = self.conv_last(self.features(x))
        return self.classifier(x.mean(dim=(2, 3)))


def _randomized(model):
    """Non-trivial conv biases and batch-norm statistics, eval mode."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.bias.data.normal_(0, 0.1, generator=generator)
        if isinstance(module, nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.normal_(0, 0.1, generator=generator)
            module.running_mean.normal_(0, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model.double().eval()


def _classifier(conversion, in_channels):
    # in mmpretrain's scope, whatever scope an earlier in-process tool left
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=conversion.backbone,
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead',
                    num_classes=10,
                    in_channels=in_channels)))


def _converted_logits(model, x):
    return model.head.fc(model.neck(model.backbone(x))[-1])


@pytest.fixture(scope='module', params=['acon', 'meta'])
def official_resnet(request):
    torch.manual_seed(0)
    return request.param, _randomized(OfficialResNet50(request.param))


def test_resnet50_converts_to_the_same_function(official_resnet, tmp_path):
    kind, official = official_resnet
    state = official.state_dict()
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    # as the official training script saves it, under nn.DataParallel
    torch.save({'state_dict': {
        f'module.{k}': v
        for k, v in state.items()
    }}, src)
    conversion = convert_file(convert_acon_resnet, str(src), str(dst))

    expected_act = dict(type='AconC') if kind == 'acon' else dict(
        type='MetaAconC', r=16, with_norm=True)
    assert conversion.backbone == dict(
        type='ActResNet',
        depth=50,
        style='caffe',
        act_cfg=expected_act,
        act_positions=('conv2', ),
        act_stages=None)
    model = _classifier(conversion, 2048).double().eval()
    # strict, with torch's default weights_only loading
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)

    converted = conversion.state_dict
    assert torch.equal(converted['backbone.layer3.2.act.conv2.p1'],
                       state['layer3.2.acon.p1'])
    assert torch.equal(
        converted['backbone.layer2.0.downsample.1.running_mean'],
        state['layer2.0.downsample.1.running_mean'] -
        state['layer2.0.downsample.0.bias'])
    assert torch.equal(converted['head.fc.weight'], state['fc.weight'])
    if kind == 'meta':
        assert torch.equal(
            converted['backbone.layer4.1.act.conv2.norm2.running_var'],
            state['layer4.1.acon.bn2.running_var'])

    x = torch.randn(2, 3, 32, 32, dtype=torch.double) * 50
    with torch.no_grad():
        torch.testing.assert_close(
            _converted_logits(model, x), official(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('kind', ['acon', 'meta'])
def test_shufflenet_v2_converts_to_the_same_function(kind):
    torch.manual_seed(0)
    official = _randomized(OfficialShuffleNetV2(kind))
    state = official.state_dict()
    conversion = convert_acon_shufflenet_v2(dict(state))
    conversion.check()

    expected_act = dict(type='AconC') if kind == 'acon' else dict(
        type='MetaAconC', r=8, with_norm=True)
    assert conversion.backbone == dict(
        type='mmpretrain.ShuffleNetV2', widen_factor=0.5, act_cfg=expected_act)
    model = _classifier(conversion, 1024).double().eval()
    model.load_state_dict(conversion.state_dict, strict=True)

    converted = conversion.state_dict
    # the stem and the last conv's outputs keep their order
    assert torch.equal(converted['backbone.conv1.activate.p2'],
                       state['first_conv.2.p2'])
    assert torch.equal(converted['backbone.layers.3.bn.weight'],
                       state['conv_last.1.weight'])
    x = torch.randn(2, 3, 64, 64, dtype=torch.double) * 50
    with torch.no_grad():
        torch.testing.assert_close(
            _converted_logits(model, x), official(x), rtol=1e-9, atol=1e-9)


def test_channel_maps_are_permutations():
    maps = shufflenet_v2_channel_maps((48, 96, 192))
    for order in list(maps.outputs.values()) + list(maps.inputs.values()):
        assert sorted(order) == list(range(len(order)))
    # stride-1 blocks read the odd official channels, in some order
    assert len(maps.inputs['layers.1.3']) == 48
    assert maps.outputs['conv1'] == list(range(24))


def test_unexpected_key_is_named(official_resnet):
    state = dict(official_resnet[1].state_dict())
    state['layer1.0.se.fc.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='layer1.0.se.fc.weight'):
        convert_acon_resnet(state)


def test_missing_key_is_named(official_resnet):
    state = dict(official_resnet[1].state_dict())
    del state['layer3.1.bn2.weight']
    conversion = convert_acon_resnet(state)
    with pytest.raises(KeyError, match=r'missing keys \(1\): layer3.1.bn2'):
        conversion.check()


def test_wrong_shape_is_named(official_resnet):
    state = dict(official_resnet[1].state_dict())
    state['layer2.1.acon.p1'] = torch.zeros(1, 3, 1, 1)
    conversion = convert_acon_resnet(state)
    with pytest.raises(
            ValueError, match=r'layer2.1.act.conv2.p1: \(1, 3, 1, 1\) vs'):
        conversion.check()


def test_uneven_shufflenet_is_refused():
    # official 1.5x: the first block's branches have 24 and 152 channels
    state = {
        'features.0.branch_proj.2.weight': torch.zeros(24, 24, 1, 1),
        'features.0.branch_main.5.weight': torch.zeros(152, 88, 1, 1),
    }
    with pytest.raises(ValueError, match='Only the 0.5x models'):
        convert_acon_shufflenet_v2(state)


def test_command_line(tmp_path, capsys):
    official = OfficialShuffleNetV2('meta')
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save({'state_dict': official.state_dict()}, src)
    acon_shufflenet_v2([str(src), str(dst)])
    printed = capsys.readouterr().out
    assert "'type': 'MetaAconC', 'r': 8, 'with_norm': True" in (printed)
    assert 'bgr_to_rgb=False' in printed
    assert torch.load(
        dst, weights_only=True)['meta']['converted_from'] == (
            str(src))
    with pytest.raises(FileNotFoundError, match='src: '):
        acon_shufflenet_v2([str(tmp_path / 'none.pth'), str(dst)])


@pytest.mark.parametrize('data, problem', [
    (b'', r'the file is empty \(0 bytes\)'),
    (b'<html>404 Not Found</html>',
     "it is not a PyTorch checkpoint.*b'<html>"),
])
def test_damaged_input_is_named_with_its_problem(data, problem, tmp_path):
    src = tmp_path / 'downloaded.pth'
    src.write_bytes(data)
    with pytest.raises(UnreadableCheckpointError, match=f'{src}: {problem}'):
        acon_resnet([str(src), str(tmp_path / 'converted.pth')])
    assert not (tmp_path / 'converted.pth').exists()
