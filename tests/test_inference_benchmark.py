"""The inference benchmark: its tool on CPU at tiny sizes, its tables, and
the ``formulas()`` context it times whole models with."""
import json

import pytest
import torch

from mmdynact.analysis.inference_benchmark import (PLAIN_TARGET, LayerLatency,
                                                   ModelLatency, layer_table,
                                                   layer_verdict, model_table)
from mmdynact.cli.benchmark_inference import parse_args
from mmdynact.models.activations import fused_activations
from mmdynact.models.activations.dispatch import formulas, runs_formula
from tests.test_benchmark_tools import (assert_timed_forms, run_tool,
                                        table_cells, table_rows)

FUSED = list(fused_activations())
ACON = 'configs/acon/resnet50_acon-c_8xb32_in1k.py'
BASELINE = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'  # a baseline, upstream
CPU = torch.device('cpu')


@pytest.mark.parametrize('name', FUSED)
def test_formulas_makes_a_layer_return_its_formula(name):
    layer = fused_activations()[name](8)
    x = torch.randn(2, 8, 6, 5)
    kernel = layer.spec.kernels[0].__name__
    leaf = x.clone().requires_grad_()
    assert kernel in type(layer(leaf).grad_fn).__name__  # one node
    with formulas():
        assert runs_formula(x)
        y = layer(leaf)
        assert kernel not in type(y.grad_fn).__name__
        assert type(y.grad_fn) is type(layer.formula(leaf).grad_fn)
        layer.eval()
        with torch.inference_mode():
            assert torch.equal(layer(x), layer.formula(x))
    assert not runs_formula(x)
    layer.train()
    assert kernel in type(layer(leaf).grad_fn).__name__  # back to the node


def test_formulas_nests_and_ends_on_errors():
    x = torch.ones(1, 2, 2, 2)
    with formulas():
        with formulas():
            assert runs_formula(x)
        assert runs_formula(x)
    with pytest.raises(KeyError), formulas():
        raise KeyError('inside')
    assert not runs_formula(x)
    assert runs_formula(torch.ones(0, 2, 2, 2))  # empty inputs, as before


def test_inference_tool_times_layers_and_models(tmp_path):
    results = tmp_path / 'inference.json'
    out = run_tool(
        'benchmark_inference.py',
        '--device',
        'cpu',
        '--forms',
        'eager,plain,relu',
        '--shape',
        '2',
        '8',
        '8',
        '8',
        '--repeats',
        '2',
        '--warmup',
        '1',
        '--configs',
        ACON,
        '--baseline',
        BASELINE,
        '--batch',
        '1',
        '--size',
        '32',
        '32',
        '--model-repeats',
        '1',
        '--json',
        str(results),
        backend='eager')
    assert 'eval mode, torch.inference_mode(), forward only' in out
    assert 'best of 2 rounds after 1 warm-up rounds' in out
    layers = table_cells(out, FUSED)
    assert list(layers) == FUSED  # every layer with kernels, by default
    for cells in layers.values():
        assert_timed_forms(cells, ('eager', 'plain', 'relu'))
        # the CPU target is for the compiled form, which was not timed
        assert cells['compiled / plain'] == 'needs --forms compiled'
        assert cells['target'] == f'<= {PLAIN_TARGET}x plain'
        assert float(cells['first call s (eager)']) >= 0
        assert cells['met'] == 'needs --forms compiled'
    header = table_rows(out, ['config'])[0]
    assert header == [
        'config', 'model ms', 'formula ms', 'relu twin ms', 'model / formula',
        'model / relu twin', 'first call s', 'vs baseline'
    ]
    models = {
        row[0]: dict(zip(header, row))
        for row in table_rows(out, [BASELINE, ACON])
    }
    assert list(models) == [BASELINE, ACON]  # the baseline first
    assert models[BASELINE]['vs baseline'] == 'baseline'
    assert models[BASELINE]['formula ms'] == '-'  # no mmdynact layers
    acon = models[ACON]
    assert all(
        float(acon[f'{variant} ms']) > 0
        for variant in ('model', 'formula', 'relu twin'))
    report = json.loads(results.read_text())
    assert report['backend'] == 'eager'
    assert report['layers']['shape'] == [2, 8, 8, 8]
    assert [r['layer'] for r in report['layers']['results']] == FUSED
    assert set(
        report['layers']['results'][0]['ms']) == {'eager', 'plain', 'relu'}
    base, ours = report['models']['results']
    assert base['config'] == BASELINE and base['vs_baseline'] == 1.0
    assert ours['model_over_formula'] == pytest.approx(ours['ms']['model'] /
                                                       ours['ms']['formula'])
    assert float(acon['model / relu twin'].rstrip('x')) == pytest.approx(
        ours['model_over_relu_twin'], abs=0.006)
    assert float(acon['vs baseline'].rstrip('x')) == pytest.approx(
        ours['vs_baseline'], abs=0.006)


@pytest.mark.compiled
def test_inference_tool_times_the_compiled_form_by_default():
    out = run_tool('benchmark_inference.py', '--device', 'cpu', '--parts',
                   'layers', '--layers', 'AconC', '--shape', '2', '8', '6',
                   '6', '--repeats', '2', '--warmup', '1', '--warm-cache')
    assert 'forms compiled,plain,relu' in out and 'models:' not in out
    cells = table_cells(out, ['AconC'])['AconC']
    assert float(cells['compiled ms']) > 0
    assert float(cells['compiled / plain'].rstrip('x')) > 0
    # the first call is timed on its own (in-place ops here, so ~0 s)
    assert float(cells['first call s (compiled)']) >= 0
    assert cells['met'] in ('yes', 'NO')


@pytest.mark.parametrize('args, message', [
    (['--forms', 'eager,fast'], 'fast; choose from'),
    (['--repeats', '0'], '--repeats must be >= 1'),
    (['--batch', '0'], '--batch must be >= 1'),
])
def test_inference_tool_refuses_bad_options(args, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(args)
    assert message in capsys.readouterr().err


def _latency(name: str, ours: float) -> LayerLatency:
    """A made-up result: the kernels ``ours`` s, the formula 1 ms, ReLU
    0.5 ms, host times 0.1 ms."""
    times = dict(triton=ours, compiled=ours, plain=1e-3, relu=0.5e-3)
    return LayerLatency(name, times, {form: 1e-4
                                      for form in times}, {'triton': 2.0})


def test_layer_target_applies_on_cpu_in_fp32():
    assert layer_verdict(_latency('AconA', 0.9e-3), CPU, torch.float32) == \
        'yes'
    assert layer_verdict(_latency('AconA', 1.1e-3), CPU, torch.float32) == \
        'NO'
    assert layer_verdict(_latency('AconA', 2e-3), CPU, torch.bfloat16) == '-'
    cuda = torch.device('cuda')
    forms = ['triton', 'plain', 'relu']
    out = layer_table([_latency('FReLU', 2e-3)], forms, cuda, torch.float32)
    cells = table_cells(out, ['FReLU'])['FReLU']
    assert cells['triton host us'] == '100'
    assert cells['triton / plain'] == '2.00x'
    assert cells['triton / relu'] == '4.00x'
    assert cells['target'] == '- (CPU fp32 only)' and cells['met'] == '-'
    assert cells['first call s (triton)'] == '2.00'


def test_model_table_without_baseline():
    results = [
        ModelLatency('a.py', {
            'model': 2e-3,
            'formula': 4e-3,
            'relu twin': 1e-3
        }, 3.0)
    ]
    out = model_table(results)
    header = table_rows(out, ['config'])[0]
    assert 'vs baseline' not in header
    cells = dict(zip(header, table_rows(out, ['a.py'])[0]))
    assert cells['model / formula'] == '0.50x'
    assert cells['model / relu twin'] == '2.00x'
    assert cells['first call s'] == '3.00'
