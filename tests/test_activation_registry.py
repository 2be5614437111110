"""Every registered activation is covered everywhere: one declaration
(``register_activation`` + ``ActivationSpec``) feeds the config registry,
the FLOP counting, the probes, the benchmark and the tests."""
import warnings

import pytest
import torch
from mmcv.cnn import build_activation_layer
from mmengine.registry import MODELS

from mmdynact.analysis import ACTIVATION_FLOP_HANDLES, unhandled_python_ops
from mmdynact.analysis.activation_benchmark import benchmark, target_text
from mmdynact.analysis.learned_activations.recorder import PROBES, probing
from mmdynact.models.activations import (ACTIVATIONS, PROBE_KINDS,
                                         ActivationSpec, ChannelActivation,
                                         kernels_in_traces,
                                         register_activation)

NAMES = list(ACTIVATIONS)


def test_every_layer_is_registered_once():
    assert NAMES == [
        'AconA', 'AconB', 'AconC', 'MetaAconC', 'DyReLUA', 'DyReLUB',
        'DyReLUC', 'FReLU'
    ]
    found = {
        cls.__name__
        for cls in _subclasses(ChannelActivation)
        if not cls.__name__.startswith('_')
    }
    assert found == set(NAMES)  # no layer escapes the registry


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@pytest.mark.parametrize('name', NAMES)
def test_layer_is_covered_everywhere(name):
    cls = ACTIVATIONS[name]
    assert MODELS.get(name) is cls  # act_cfg=dict(type=name)
    layer = build_activation_layer(dict(type=name, channels=4)).eval()
    x = torch.randn(2, 4, 5, 5)
    # its formula is the reference, and the kernels compute it
    torch.testing.assert_close(layer(x), layer.formula(x))
    # every kernel it runs is counted, and it runs the kernels it declares
    assert unhandled_python_ops(layer, (x, )) == []
    for kernel in cls.spec.kernels:
        assert f'prim::PythonOp.{kernel.__name__}' in ACTIVATION_FLOP_HANDLES
    with warnings.catch_warnings(), kernels_in_traces():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        traced = torch.jit.trace(layer, (x, ), check_trace=False).inlined_graph
    python_ops = {
        node.pyname()
        for node in traced.nodes() if node.kind() == 'prim::PythonOp'
    }
    assert python_ops == {kernel.__name__ for kernel in cls.spec.kernels}
    # a probe looks inside it
    assert cls.spec.probe in PROBES
    with probing(torch.nn.Sequential(layer)) as probes:
        layer(x)
    assert [type(probe) for probe in probes] == [PROBES[cls.spec.probe]]
    # the benchmark has targets for it
    assert target_text(name, torch.device('cpu')).startswith('<= ')


def test_benchmark_covers_every_layer_by_default(monkeypatch):
    measured = []
    monkeypatch.setattr('mmdynact.analysis.activation_benchmark.measure',
                        lambda cls, *args: measured.append(cls.__name__))
    benchmark((1, 4, 3, 3), torch.float32, torch.device('cpu'), 0, 1, False)
    assert measured == NAMES


def test_probe_kinds_have_probes():
    assert set(PROBES) == set(PROBE_KINDS)


def test_registration_checks_the_spec():

    class NoFlops(torch.autograd.Function):
        pass

    with pytest.raises(ValueError, match='probe must be one of'):
        register_activation(ActivationSpec((), 'gelu', 1.0, 1.0))
    with pytest.raises(TypeError, match='NoFlops has no count_flops'):
        register_activation(ActivationSpec((NoFlops, ), 'acon', 1.0, 1.0))
