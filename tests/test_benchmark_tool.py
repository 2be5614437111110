"""tools/analysis_tools/benchmark_activations.py runs and prints its table."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.compiled
def test_benchmark_prints_a_row_per_layer():
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/benchmark_activations.py',
         '--shape', '2', '8', '6', '6', '--warmup', '0', '--repeats', '1',
         '--layers', 'AconC', 'FReLU'],
        cwd=REPO, capture_output=True, text=True, check=True,
        env=dict(os.environ, MMDYNACT_BACKEND='auto', PYTHONPATH=str(REPO)))
    rows = [line for line in result.stdout.splitlines()
            if line.startswith('| Acon') or line.startswith('| FReLU')]
    assert [row.split('|')[1].strip() for row in rows] == ['AconC', 'FReLU']
    for row in rows:
        cells = [cell.strip() for cell in row.split('|')[1:-1]]
        assert len(cells) == 11
        assert float(cells[1]) > 0 and float(cells[3]) > 0  # fused, straight
        assert cells[-1] in ('yes', 'NO')
