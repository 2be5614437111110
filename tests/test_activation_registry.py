"""Every registered activation is covered everywhere: one declaration
(``register_activation`` + ``ActivationSpec``) feeds the config registry,
ConvModule, ActResNet, the FLOP counting, the probes, the benchmark and the
tests. Both tiers: the layers with kernels, and a reference-only layer
(``tests/reference_only_layer.py``, registered for its tests only)."""
import warnings

import numpy as np
import pytest
import torch
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.registry import MODELS
from torch import nn

import mmdynact.models.activations as activations
from mmdynact.analysis import (activation_flop_handles, count, relu_twin,
                               unhandled_python_ops)
from mmdynact.analysis.activation_benchmark import (benchmark, table,
                                                    target_text)
from mmdynact.analysis.learned_activations import probing, write_report
from mmdynact.analysis.learned_activations.recorder import PROBES
from mmdynact.analysis.learned_activations.report import report_sections
from mmdynact.models.activations import (ACTIVATIONS, PROBE_KINDS,
                                         ActivationSpec, ChannelActivation,
                                         fused_activations,
                                         register_activation)
from mmdynact.models.activations.dispatch import staged
from tests.reference_only_layer import (FLOPS_PER_ELEMENT, ChannelPReLU,
                                        registered)

NAMES = list(ACTIVATIONS)
REFERENCE_ONLY = ChannelPReLU.__name__
CPU = torch.device('cpu')


@pytest.fixture(params=NAMES + [REFERENCE_ONLY])
def name(request):
    """Each registered layer, and the test's reference-only layer."""
    if request.param == REFERENCE_ONLY:
        request.getfixturevalue('reference_only_layer')
    return request.param


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_layer_of_the_package_is_registered_and_exported():
    ours = {
        cls
        for cls in _subclasses(ChannelActivation)
        if cls.__module__.startswith('mmdynact.')
        and not cls.__name__.startswith('_')
    }
    assert ours == set(ACTIVATIONS.values())  # no layer escapes the registry
    for layer_name, cls in ACTIVATIONS.items():
        assert cls.__name__ == layer_name
        assert MODELS.get(layer_name) is cls
        assert getattr(activations, layer_name) is cls
        assert layer_name in activations.__all__


def test_layer_is_covered_everywhere(name):
    cls = ACTIVATIONS[name]
    assert MODELS.get(name) is cls  # act_cfg=dict(type=name)
    layer = build_activation_layer(dict(type=name, channels=4)).eval()
    x = torch.randn(2, 4, 5, 5)
    # its formula is the reference, and the forward computes it
    torch.testing.assert_close(layer(x), layer.formula(x))
    # ConvModule fills the channels in
    conv = ConvModule(3, 4, 3, padding=1, act_cfg=dict(type=name))
    assert isinstance(conv.activate, cls) and conv.activate.channels == 4
    assert conv(torch.randn(2, 3, 5, 5)).shape == (2, 4, 5, 5)
    # ActResNet places it
    backbone = MODELS.build(
        dict(
            type='ActResNet',
            depth=18,
            stem_channels=8,
            base_channels=8,
            act_cfg=dict(type=name),
            act_positions=('conv1', 'add'),
            act_stages=(0, )))
    placed = [m for m in backbone.modules() if isinstance(m, cls)]
    assert len(placed) == 4  # two blocks, two positions each
    assert backbone(torch.randn(2, 3, 32, 32))[-1].shape == (2, 64, 1, 1)
    # every kernel it runs is counted, and it runs the kernels it declares:
    # one autograd node per call, and in the staged path (torch.compile,
    # FLOP counting) their custom ops
    assert unhandled_python_ops(layer, (x, )) == []
    handles = activation_flop_handles()
    declared = {kernel.custom_op for kernel in cls.spec.kernels}
    assert declared <= set(handles)
    leaf = x.clone().requires_grad_()
    node = type(layer.train()(leaf).grad_fn).__name__
    layer.eval()
    if cls.spec.kernels:
        assert node in {f'{k.__name__}Backward' for k in cls.spec.kernels}
    with warnings.catch_warnings(), staged():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        traced = torch.jit.trace(layer, (x, ), check_trace=False).inlined_graph
    custom_ops = {
        node.kind()
        for node in traced.nodes() if node.kind().startswith('mmdynact::')
        or node.kind() == 'prim::PythonOp'
    }
    assert custom_ops == declared
    # its FLOPs count its element-wise work (at least one per element)
    assert count(layer, (x[:1], ))[0] >= x[:1].numel()
    assert not any(isinstance(m, cls) for m in relu_twin(conv).modules())
    # a probe looks inside it
    assert cls.spec.probe in PROBES
    with probing(torch.nn.Sequential(layer)) as probes:
        layer(x)
    assert [type(probe) for probe in probes] == [PROBES[cls.spec.probe]]
    assert probes[0].section in report_sections()
    # the benchmark measures it and has targets for it
    result, = benchmark((2, 4, 5, 5), torch.float32, CPU, 0, 1, False, [name],
                        ['eager', 'plain', 'relu'])
    assert set(result.times) == ({'plain', 'relu'} if cls.spec.reference_only
                                 else {'eager', 'plain', 'relu'})
    assert result.name in table([result], ['eager', 'plain', 'relu'], CPU)
    assert target_text(name,
                       CPU) == ('reference only' if cls.spec.reference_only
                                else f'<= {cls.spec.cpu_time_target}x plain')


def test_reference_only_layer_needs_only_its_formula(reference_only_layer,
                                                     tmp_path):
    cls = reference_only_layer
    assert cls.spec == ActivationSpec() and cls.spec.reference_only
    assert cls.forward is ChannelActivation.forward  # the base runs formula
    assert REFERENCE_ONLY in ACTIVATIONS
    assert REFERENCE_ONLY not in fused_activations()
    assert list(fused_activations()) == NAMES
    layer = cls(4)
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    y = layer(x)
    torch.testing.assert_close(y, torch.where(x > 0, x, 0.25 * x))
    y.sum().backward()
    assert layer.slope.grad.shape == (1, 4, 1, 1)
    with pytest.raises(ValueError, match=r'ChannelPReLU\(channels=4\)'):
        layer(torch.randn(2, 5, 5, 5))
    # its FLOPs are its formula's, op by op, with no op left uncounted
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        flops, params = count(layer, (x[:1].detach(), ))
    assert flops == FLOPS_PER_ELEMENT * x[:1].numel()
    assert params == 4
    # the generic probe draws and summarises it
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), layer)
    with torch.no_grad(), probing(model) as probes:
        model(torch.randn(2, 3, 8, 8))
    probe, = probes
    assert probe.kind == probe.section == 'curve'
    channel, inputs, outputs = probe.points
    np.testing.assert_allclose(
        outputs, np.where(inputs > 0, inputs, 0.25 * inputs), rtol=1e-6)
    assert set(channel) <= set(range(4))
    written = {path.name for path in write_report(probes, tmp_path, 'tiny')}
    assert {'curve_curves.png', 'curve_spread.png'} <= written
    assert 'departure from relu' in (tmp_path / 'summary.txt').read_text()
    # the benchmark reports it as reference only, whatever the forms
    result, = benchmark((2, 4, 5, 5), torch.float32, CPU, 0, 1, False,
                        [REFERENCE_ONLY], ['compiled', 'eager', 'plain'])
    assert set(result.times) == {'plain'}
    assert result.memory is None and result.plain_memory > 1
    row = table([result], ['compiled', 'eager', 'plain'], CPU).splitlines()[2]
    cells = [cell.strip() for cell in row.split('|')[1:-1]]
    assert cells[:4] == [REFERENCE_ONLY, '-', '-', cells[3]]
    assert float(cells[3]) > 0
    assert cells[-1] == 'reference only'


def test_reference_only_layer_is_unregistered_after_its_test():
    before = dict(ACTIVATIONS)
    with registered():
        assert MODELS.get(REFERENCE_ONLY) is ChannelPReLU
        assert list(ACTIVATIONS) == NAMES + [REFERENCE_ONLY]
    assert ACTIVATIONS == before
    assert MODELS.get(REFERENCE_ONLY) is None


def test_benchmark_covers_every_layer_by_default(monkeypatch):
    measured = []
    monkeypatch.setattr('mmdynact.analysis.activation_benchmark.measure',
                        lambda cls, *args: measured.append(cls.__name__))
    benchmark((1, 4, 3, 3), torch.float32, CPU, 0, 1, False)
    assert measured == NAMES


def test_probe_kinds_are_one_list():
    # the registry's kinds, the probes and the report's sections agree
    assert list(PROBES) == list(PROBE_KINDS)
    for kind, probe in PROBES.items():
        assert probe.kind == kind and probe.titles
    sections = [s for kind in PROBE_KINDS for s in PROBES[kind].titles]
    assert list(report_sections()) == sections
    assert len(set(sections)) == len(sections)


class _Counted(torch.autograd.Function):
    custom_op = 'mmdynact::candidate'

    @staticmethod
    def count_flops(shapes):
        return 0


class _NoFlops(torch.autograd.Function):
    custom_op = 'mmdynact::candidate'


class _NoCustomOp(torch.autograd.Function):

    @staticmethod
    def count_flops(shapes):
        return 0


def _layer(**methods):
    """A fresh ChannelActivation subclass with ``methods``."""
    return type('Candidate', (ChannelActivation, ), methods)


def _formula(self, x):
    return x


def _forward(self, x):
    return x


FUSED = dict(kernels=(_Counted, ), cpu_time_target=1.0, gpu_time_target=2.0)


@pytest.mark.parametrize(
    'spec, methods, error, message', [
        (ActivationSpec(probe='gelu'), dict(formula=_formula), ValueError,
         'Candidate: ActivationSpec.probe must be one of'),
        (ActivationSpec(
            (_NoFlops, ), cpu_time_target=1.0,
            gpu_time_target=1.0), dict(formula=_formula, forward=_forward),
         TypeError, 'kernel _NoFlops has no count_flops'),
        (ActivationSpec(
            (_NoCustomOp, ), cpu_time_target=1.0,
            gpu_time_target=1.0), dict(formula=_formula, forward=_forward),
         TypeError, 'kernel _NoCustomOp declares no custom_op'),
        (ActivationSpec(kernels=(_Counted, ), gpu_time_target=2.0),
         dict(formula=_formula, forward=_forward), ValueError,
         'declares kernels, so it needs cpu_time_target'),
        (ActivationSpec(cpu_time_target=1.0), dict(formula=_formula),
         ValueError, 'declares no kernels .* has no cpu_time_target'),
        (ActivationSpec(**FUSED), dict(formula=_formula), TypeError,
         'Candidate defines forward'),
        (ActivationSpec(), {}, TypeError, 'Candidate has no formula'),
    ],
    ids=[
        'unknown probe', 'kernel without count_flops',
        'kernel without custom op', 'no time target',
        'reference only with target', 'kernels without forward', 'no formula'
    ])
def test_registration_checks_the_spec(spec, methods, error, message):
    before = dict(ACTIVATIONS)
    with pytest.raises(error, match=message):
        register_activation(spec)(_layer(**methods))
    assert ACTIVATIONS == before and MODELS.get('Candidate') is None


def test_registration_takes_channel_activations_only():
    with pytest.raises(TypeError, match='subclass of .*ChannelActivation'):
        register_activation(ActivationSpec())(nn.ReLU)
    assert 'ReLU' not in ACTIVATIONS
