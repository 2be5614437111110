"""tools/deployment/pytorch2onnx.py on the tiny models trained by the tools,
one config a toolbox, with both exporters; the pieces it is built from."""
import io
import warnings

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from mmdynact.analysis import TensorForward
from mmdynact.analysis.learned_activations.model_inputs import load_model
from mmdynact.cli import pytorch2onnx
from mmdynact.cli.toolbox import load_toolbox_config
from mmdynact.deployment import (ExportableAdaptiveAvgPool2d, check_onnx_file,
                                 float32_rounding,
                                 make_adaptive_pools_exportable,
                                 run_onnxruntime, second_shape)
from tests.tiny_workspace import (CLS_CONFIG, DET_CONFIG, POSE_CONFIG,
                                  SEG_CONFIG, last_checkpoint, run_python)

#: fixture of the trained model, its config, the input size, and the shape
#: of its first raw output for a batch (N, 3, H, W), as a function of it
TRAINED = {
    # RetinaNet: per-level class scores first, 9 anchors x 3 classes, P3
    # at stride 8 (then the other levels, then the box regressions)
    'mmdet': ('trained_detector', DET_CONFIG, (128, 128), lambda n, h, w:
              (n, 27, h // 8, w // 8)),
    # PSPNet: the 19 Cityscapes logits at the decode head's 1/8 size
    'mmseg': ('trained_segmentor', SEG_CONFIG, (64, 128), lambda n, h, w:
              (n, 19, h // 8, w // 8)),
    # MobileNetV2: the 10 class scores before softmax
    'mmpretrain': ('trained_classifier', CLS_CONFIG, (32, 32), lambda n, h, w:
                   (n, 10)),
    # top-down heatmaps: 17 COCO keypoints at 1/4 of the input
    'mmpose': ('trained_pose_estimator', POSE_CONFIG, (64, 64), lambda n, h, w:
               (n, 17, h // 4, w // 4)),
}


@pytest.mark.parametrize('dynamo', [False, True], ids=['legacy', 'dynamo'])
@pytest.mark.parametrize('toolbox', sorted(TRAINED))
def test_trained_model_exports_with_dynamic_sizes(toolbox, dynamo, request,
                                                  tmp_path, capsys):
    fixture, config, (height, width), first_output = TRAINED[toolbox]
    checkpoint = last_checkpoint(request.getfixturevalue(fixture))
    out = str(tmp_path / 'model.onnx')
    argv = [
        str(config),
        str(checkpoint), '--out', out, '--shape',
        str(height),
        str(width), '--dynamic', '--verify'
    ]
    differences = pytorch2onnx.main(argv + (['--dynamo'] if dynamo else []))
    # verified on the example batch and on a second batch size and image size
    assert [d.input_shape for d in differences] == [(1, 3, height, width),
                                                    second_shape(
                                                        (1, 3, height, width))]
    assert all(d.max_rel < 1e-4 for d in differences), differences
    assert 'verified: within --rtol 0.0001' in capsys.readouterr().out
    model = onnx.load(out)
    assert {node.domain for node in model.graph.node} <= {''}
    assert {
        entry.version
        for entry in model.opset_import if entry.domain in ('', 'ai.onnx')
    } == {18 if dynamo else 17}
    # the raw network outputs, of any batch and image size
    inputs = torch.randn(3, 3, height + 32, width + 32)
    outputs = run_onnxruntime(out, inputs)
    assert tuple(outputs[0].shape) == first_output(3, height + 32, width + 32)
    assert len(outputs) == (10 if toolbox == 'mmdet' else 1)


def test_tool_exports_an_image_at_a_static_size_and_fails_beyond_rtol(
        trained_detector, tiny_workspace, tmp_path):
    image = tiny_workspace / 'data/tiny/coco/val2017/000000000001.jpg'
    out = tmp_path / 'detector.onnx'
    args = (DET_CONFIG, last_checkpoint(trained_detector), '--out', out,
            '--shape', '128', '160', '--input', image, '--verify')
    proc = run_python(tiny_workspace, 'tools/deployment/pytorch2onnx.py',
                      *args)
    assert 'example input (1, 3, 128, 160), outputs output_0, ' in proc.stdout
    assert 'verified: within --rtol 0.0001' in proc.stdout
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [dim.dim_value for dim in dims] == [1, 3, 128, 160]
    # a tolerance no float32 computation meets fails, with the model's own
    # float32 rounding for comparison
    proc = run_python(
        tiny_workspace,
        'tools/deployment/pytorch2onnx.py',
        *args,
        '--rtol',
        '1e-12',
        check=False)
    assert proc.returncode == 1
    assert f'{out}: relative difference' in proc.stdout
    assert 'exceeds --rtol 1e-12. For comparison, PyTorch float32 against ' \
        'float64, input (1, 3, 128, 160): max abs difference' in proc.stdout


def test_float32_rounding_measures_the_model_against_float64():
    # (1 + e)(1 + e) - (1 + 2e) = e^2 for e = 2^-23: float64 holds it, in
    # float32 the product rounds to 1 + 2e and the result to 0
    e = 2.0**-23
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(1 + e)
        model.bias.fill_(-(1 + 2 * e))
    difference = float32_rounding(model, torch.full((1, 1), 1 + e))
    assert difference == ((1, 1), e**2, 1.0)


def test_tool_wants_an_onnx_file(capsys):
    with pytest.raises(SystemExit):
        pytorch2onnx.parse_args([str(CLS_CONFIG), 'x.pth', '--out', 'x.pt'])
    assert '--out x.pt: give a .onnx file' in capsys.readouterr().err


def test_trained_model_traces_saves_and_loads(trained_classifier):
    cfg, _ = load_toolbox_config(str(CLS_CONFIG))
    model = TensorForward(
        load_model(cfg, str(last_checkpoint(trained_classifier))))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        traced = torch.jit.trace(model, (torch.randn(1, 3, 32, 32), ))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    x = torch.randn(2, 3, 48, 40)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('output_size',
                         [2, 3, 6, (2, 5), (None, 3), (4, None)])
def test_exportable_adaptive_pool_matches_torch(output_size):
    reference = torch.nn.AdaptiveAvgPool2d(output_size)
    ours = ExportableAdaptiveAvgPool2d((
        output_size,
        output_size) if isinstance(output_size, int) else output_size)
    # sizes that are multiples, not multiples, and smaller than the output
    for shape in [(2, 4, 12, 12), (1, 3, 7, 5), (3, 2, 13, 29), (1, 2, 1, 2)]:
        x = torch.randn(shape, dtype=torch.float64)
        torch.testing.assert_close(ours(x), reference(x))


def test_only_pools_larger_than_one_are_replaced():
    model = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d((3, 6))),
        torch.nn.AdaptiveAvgPool2d((1, 1)))
    assert make_adaptive_pools_exportable(model) == 1
    assert isinstance(model[0], torch.nn.AdaptiveAvgPool2d)
    assert isinstance(model[1][0], ExportableAdaptiveAvgPool2d)
    assert model[1][0].output_size == (3, 6)
    assert isinstance(model[2], torch.nn.AdaptiveAvgPool2d)


def _onnx_file(tmp_path, domain, opset):
    node = helper.make_node('FunnelMax', ['x'], ['y'], domain=domain)
    graph = helper.make_graph(
        [node], 'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])])
    imports = [helper.make_opsetid('', opset)]
    if domain:
        imports.append(helper.make_opsetid(domain, 1))
    path = str(tmp_path / 'custom.onnx')
    onnx.save(helper.make_model(graph, opset_imports=imports), path)
    return path


def test_check_rejects_custom_ops_and_another_opset(tmp_path):
    path = _onnx_file(tmp_path, 'mmdynact', 17)
    with pytest.raises(RuntimeError, match=r"\['mmdynact::FunnelMax'\]"):
        check_onnx_file(path, 17)
    with pytest.raises(RuntimeError, match='torch wrote opset 17, not the 18'):
        check_onnx_file(path, 18)
