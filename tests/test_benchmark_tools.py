"""The benchmark tools run on CPU and print (and write) their results."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_tool(tool: str, *args: str, backend: str = 'auto') -> str:
    result = subprocess.run(
        [sys.executable, f'tools/analysis_tools/{tool}', *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=dict(os.environ, MMDYNACT_BACKEND=backend, PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def table_rows(out: str, first_cells) -> list:
    return [
        [cell.strip() for cell in line.split('|')[1:-1]]
        for line in out.splitlines()
        if line.startswith('| ') and line.split('|')[1].strip() in first_cells
    ]


@pytest.mark.compiled
def test_activation_benchmark_prints_a_row_per_layer():
    # (the mixed-use warm-up is skipped: it only compiles more variants)
    out = run_tool('benchmark_activations.py', '--shape', '2', '8', '6', '6',
                   '--warmup', '0', '--repeats', '1', '--layers', 'AconC',
                   'FReLU', '--no-mixed-use')
    header = table_rows(out, ['layer'])[0]
    rows = table_rows(out, ['AconC', 'FReLU'])
    assert [row[0] for row in rows] == ['AconC', 'FReLU']
    for row in rows:
        cells = dict(zip(header, row))
        for name in ('ours ms', 'eager ms', 'straightforward ms', 'ReLU ms'):
            assert float(cells[name]) > 0
        assert cells['time target'] == '<= ' + ('0.6' if row[0] == 'AconC' else
                                                '1.0') + 'x straightforward'
        assert float(cells['memory / input (<= 1.05x)'].rstrip('x')) > 0
        assert cells['met'] in ('yes', 'NO')


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
    result = subprocess.run([
        sys.executable, 'tools/analysis_tools/benchmark_train_step.py',
        'configs/_tiny_/mobilenet-v2_dyrelu-b_tiny-imagenet.py', '--baseline',
        'configs/_tiny_/pspnet_r18-d8-frelu_tiny-cityscapes.py', '--device',
        'cpu'
    ],
                            cwd=REPO,
                            capture_output=True,
                            text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode != 0
    assert 'compare configs of one toolbox per run' in result.stderr
