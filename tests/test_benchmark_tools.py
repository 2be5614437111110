"""The benchmark tools run on CPU and print (and write) their results."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmdynact.analysis.activation_benchmark import (FORMS, Measurement,
                                                    default_forms, table,
                                                    verdict)
from mmdynact.models.activations import ACTIVATIONS

REPO = Path(__file__).resolve().parents[1]


def run(tool: str, *args: str, backend: str = 'auto', **env):
    """Run a tool as a user does; ``env`` values of None are removed."""
    environment = dict(os.environ, MMDYNACT_BACKEND=backend, **env)
    environment['PYTHONPATH'] = str(REPO)
    return subprocess.run(
        [sys.executable, f'tools/analysis_tools/{tool}', *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={
            k: v
            for k, v in environment.items() if v is not None
        })


def run_tool(tool: str, *args: str, backend: str = 'auto') -> str:
    result = run(tool, *args, backend=backend)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def table_rows(out: str, first_cells) -> list:
    return [
        [cell.strip() for cell in line.split('|')[1:-1]]
        for line in out.splitlines()
        if line.startswith('| ') and line.split('|')[1].strip() in first_cells
    ]


def table_cells(out: str, layers) -> dict:
    """Layer name -> {column header: cell}."""
    header = table_rows(out, ['layer'])[0]
    return {row[0]: dict(zip(header, row)) for row in table_rows(out, layers)}


def assert_timed_forms(cells: dict, forms) -> None:
    """A row has a time column for each of ``forms``, in order, and only
    those, each time positive."""
    assert [key for key in cells
            if key.endswith(' ms')] == [f'{form} ms' for form in forms]
    assert all(float(cells[f'{form} ms']) > 0 for form in forms)


@pytest.mark.compiled
def test_activation_benchmark_prints_a_row_per_layer():
    # (the mixed-use warm-up is skipped: it only compiles more variants)
    out = run_tool('benchmark_activations.py', '--shape', '2', '8', '6', '6',
                   '--warmup', '0', '--repeats', '1', '--layers', 'AconC',
                   'FReLU', '--no-mixed-use')
    rows = table_cells(out, ['AconC', 'FReLU'])
    assert list(rows) == ['AconC', 'FReLU']
    for name, cells in rows.items():
        for form in ('compiled', 'eager', 'plain', 'relu'):  # CPU's default
            assert float(cells[f'{form} ms']) > 0
        assert 'triton ms' not in cells
        target = ACTIVATIONS[name].spec.cpu_time_target
        assert cells['time target'] == f'<= {target}x plain'
        assert float(cells['compiled / plain'].rstrip('x')) > 0
        assert float(cells['memory / input (<= 1.05x)'].rstrip('x')) > 0
        assert cells['met'] in ('yes', 'NO')


def test_activation_benchmark_times_the_chosen_forms():
    # as ../shared/gpu/measure.sh dry-runs it on a CPU (Triton left out)
    assert '--forms' in run_tool('benchmark_activations.py', '--help')
    out = run_tool(
        'benchmark_activations.py',
        '--device',
        'cpu',
        '--no-mixed-use',
        '--forms',
        'eager,plain,relu',
        '--shape',
        '2',
        '16',
        '8',
        '8',
        '--repeats',
        '2',
        '--warmup',
        '1',
        backend='eager')
    assert 'forms eager,plain,relu' in out
    rows = table_cells(out, list(ACTIVATIONS))
    assert list(rows) == list(ACTIVATIONS)
    for cells in rows.values():
        assert_timed_forms(cells, ('eager', 'plain', 'relu'))
        # CPU targets are for the compiled form, which was not timed
        assert cells['compiled / plain'] == 'needs --forms compiled'
        assert cells['met'] == 'needs --forms compiled'
        assert float(cells['memory / input (<= 1.05x)'].rstrip('x')) > 0


@pytest.mark.parametrize(
    'forms, env, message',
    [('eager,fast', {}, 'fast; choose from triton,compiled,eager,plain,relu'),
     ('triton,eager', dict(TRITON_INTERPRET=None),
      'triton cannot run on cpu: .*leave triton out of --forms')])
def test_activation_benchmark_refuses_forms_it_cannot_time(
        forms, env, message):
    result = run('benchmark_activations.py', '--forms', forms, '--shape', '1',
                 '4', '3', '3', '--layers', 'AconA', **env)
    assert result.returncode != 0
    assert re.search(message, result.stderr), result.stderr[-2000:]


def _measurement(name: str, forms) -> Measurement:
    """A made-up result: each form 1 ms (0.1 ms host), ReLU 0.5 ms."""
    times = {form: 0.5e-3 if form == 'relu' else 1e-3 for form in forms}
    return Measurement(name, times, {form: 1e-4
                                     for form in forms}, 1.0, 3.0, 0.5)


def test_gpu_targets_need_their_forms():
    cuda = torch.device('cuda')
    assert default_forms(cuda) == list(FORMS)
    assert default_forms(
        torch.device('cpu')) == [form for form in FORMS if form != 'triton']
    forms = ['triton', 'eager', 'plain', 'relu']  # measure.sh's on a GPU
    out = table([_measurement('DyReLUC', forms)], forms, cuda)
    cells = table_cells(out, ['DyReLUC'])['DyReLUC']
    assert cells['triton host us'] == '100' and cells['relu host us'] == '100'
    assert cells['triton / relu'] == '2.00x'
    assert cells['time target'] == '<= 3.0x relu, host <= 150 us'
    assert cells['met'] == 'yes'  # 2x ReLU, 100 us host, 1.0x memory
    assert verdict(_measurement('AconA', forms), cuda) == 'yes'
    assert verdict(_measurement('DyReLUC', forms)._replace(memory=1.2),
                   cuda) == 'NO'
    no_relu = _measurement('DyReLUC', ['triton', 'eager'])
    assert verdict(no_relu, cuda) == 'needs --forms relu'
    cells = table_cells(
        table([no_relu], ['triton', 'eager'], cuda), ['DyReLUC'])['DyReLUC']
    assert cells['triton / relu'] == 'needs --forms relu'
    assert cells['triton / plain'] == 'needs --forms plain'
    assert 'relu ms' not in cells


def test_train_step_benchmark_compares_with_the_baseline(tmp_path):
    results = tmp_path / 'steps.json'
    out = run_tool(
        'benchmark_train_step.py',
        'configs/_tiny_/mobilenet-v2_dyrelu-b_tiny-imagenet.py',
        '--baseline',
        'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
        '--device',
        'cpu',
        '--batch',
        '2',
        '--iters',
        '2',
        '--warmup',
        '1',
        '--amp',
        'none',
        '--shape',
        '32',
        '32',
        '--json',
        str(results),
        backend='eager')
    assert 'training steps on cpu' in out and 'batch 2, amp none' in out
    rows = table_rows(out, [
        'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py',
        'configs/_tiny_/mobilenet-v2_dyrelu-b_tiny-imagenet.py'
    ])
    assert rows[0][-1] == 'baseline' and rows[1][-1].endswith('x')
    report = json.loads(results.read_text())
    assert report['baseline'].startswith('mmpretrain::')
    first, second = report['timings']
    assert first['vs_baseline'] == 1.0
    assert second['step_ms'] > 0 and second['images_per_s'] > 0
    assert second['vs_baseline'] == pytest.approx(second['step_ms'] /
                                                  first['step_ms'])
    assert float(rows[1][-1].rstrip('x')) == pytest.approx(
        second['vs_baseline'], abs=0.006)


def test_train_step_benchmark_rejects_mixed_toolboxes():
    result = run('benchmark_train_step.py',
                 'configs/_tiny_/mobilenet-v2_dyrelu-b_tiny-imagenet.py',
                 '--baseline',
                 'configs/_tiny_/pspnet_r18-d8-frelu_tiny-cityscapes.py',
                 '--device', 'cpu')
    assert result.returncode != 0
    assert 'compare configs of one toolbox per run' in result.stderr
