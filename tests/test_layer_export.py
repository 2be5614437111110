"""Every layer exports: ONNX (both exporters), TorchScript trace, and a clear
error from torch.jit.script; FLOP-counting traces still see the kernels."""
import io
import warnings

import onnx
import pytest
import torch
from mmcv.cnn import build_activation_layer

from mmdynact.deployment import (compare_with_onnxruntime, export_onnx,
                                 second_shape)
from mmdynact.models.activations import ACTIVATIONS, exporting, staged

NAMES = list(ACTIVATIONS)
C = 8
SHAPE = (2, C, 9, 7)


def trained_looking(name):
    """The layer in eval mode with parameters and running statistics away
    from their initial values, so that every term of the formula counts."""
    layer = build_activation_layer(dict(type=name, channels=C))
    with torch.no_grad():
        for parameter in layer.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
        for norm in layer.modules():
            if isinstance(norm, torch.nn.BatchNorm2d):
                norm.running_mean.normal_()
                norm.running_var.uniform_(0.5, 2)
    return layer.eval()


def python_ops(graph):
    return [node for node in graph.nodes() if node.kind() == 'prim::PythonOp']


def trace(layer, x):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        return torch.jit.trace(layer, (x, ), check_trace=False)


@pytest.mark.parametrize('dynamo', [False, True], ids=['legacy', 'dynamo'])
@pytest.mark.parametrize('name', NAMES)
def test_onnx_export_with_dynamic_sizes(name, dynamo, tmp_path):
    layer = trained_looking(name)
    x = torch.randn(SHAPE)
    path = str(tmp_path / f'{name}.onnx')
    assert export_onnx(layer, x, path, dynamic=True, dynamo=dynamo) == \
        ['output']
    model = onnx.load(path)
    assert {node.domain for node in model.graph.node} <= {''}
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [dim.dim_param or dim.dim_value for dim in dims] == \
        ['batch', C, 'height', 'width']
    for shape in (SHAPE, second_shape(SHAPE)):
        difference = compare_with_onnxruntime(layer, path, torch.randn(shape))
        assert difference.input_shape == shape
        assert difference.max_rel < 1e-4, difference


@pytest.mark.parametrize('name', NAMES)
def test_torchscript_trace_saves_and_loads(name):
    layer = trained_looking(name)
    traced = trace(layer, torch.randn(SHAPE))
    assert python_ops(traced.inlined_graph) == []
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    for shape in (SHAPE, second_shape(SHAPE)):
        x = torch.randn(shape)
        with torch.no_grad():
            torch.testing.assert_close(
                loaded(x), layer(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name', NAMES)
def test_traces_for_flop_counting_record_the_kernels(name):
    layer = trained_looking(name)
    with staged():
        graph = trace(layer, torch.randn(SHAPE)).inlined_graph
    assert sorted(node.kind() for node in graph.nodes()
                  if node.kind().startswith('mmdynact::')) == sorted(
                      kernel.custom_op
                      for kernel in ACTIVATIONS[name].spec.kernels)
    # and only inside the context
    graph = trace(layer, torch.randn(SHAPE)).inlined_graph
    assert python_ops(graph) == []
    assert not any(node.kind().startswith('mmdynact::')
                   for node in graph.nodes())


@pytest.mark.parametrize('name', NAMES)
def test_torch_jit_script_names_the_layer_and_the_alternatives(name):
    layer = trained_looking(name)
    for module in (layer, torch.nn.Sequential(torch.nn.Identity(), layer)):
        with pytest.raises(RuntimeError) as error:
            torch.jit.script(module)
        message = str(error.value)
        assert message.startswith(f'{name} cannot be compiled by '
                                  'torch.jit.script')
        assert 'torch.jit.trace' in message
        assert 'torch.onnx.export' in message


@pytest.mark.parametrize('name', NAMES)
def test_compiled_layers_keep_their_kernels(name):
    assert not exporting()
    graphs = []

    def record(graph_module, example_inputs):
        graphs.append(graph_module.graph)
        return graph_module.forward

    torch._dynamo.reset()
    torch.compile(
        trained_looking(name), backend=record, fullgraph=True)(
            torch.randn(SHAPE))
    custom_ops = {
        str(node.target).split('.')[0]
        for node in graphs[0].nodes if node.op == 'call_function'
    }
    assert 'mmdynact' in custom_ops


def test_exporting_is_true_under_torch_export():
    seen = []

    class Probe(torch.nn.Module):

        def forward(self, x):
            seen.append(exporting())
            return x + 1

    torch.export.export(Probe(), (torch.ones(2), ))
    assert seen and all(seen)
