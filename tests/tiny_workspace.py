"""Shared by the tool tests: the tiny data, and running the tools.

The tools run as the user runs them: subprocesses started in a workspace
folder that holds ``data/tiny`` (where ``configs/_tiny_`` look), with the
eager kernels (no compilation time) and this checkout importable.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from mmdynact.tiny_datasets import write_tiny_datasets

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIGS = REPO / 'configs' / '_tiny_'
CLS_CONFIG = TINY_CONFIGS / 'mobilenet-v2_dyrelu-b_tiny-imagenet.py'
#: two short epochs of the classifier, shared by the tests that compare runs
CLS_OPTIONS = ('train_cfg.max_epochs=2', 'default_hooks.logger.interval=1')


# Session fixtures, registered once through tests/conftest.py (importing them
# into test modules instead would define, and run, them once per module).
@pytest.fixture(scope='session')
def tiny_workspace(tmp_path_factory) -> Path:
    """A folder with the tiny data sets in ``data/tiny``."""
    folder = tmp_path_factory.mktemp('tiny_workspace')
    write_tiny_datasets(folder / 'data' / 'tiny')
    return folder


@pytest.fixture(scope='session')
def trained_classifier(tiny_workspace) -> Path:
    """Work dir of the tiny classifier trained for ``CLS_OPTIONS``."""
    work_dir = tiny_workspace / 'work_dirs' / 'classifier'
    run_python(tiny_workspace, 'tools/train.py', CLS_CONFIG, '--work-dir',
               work_dir, '--cfg-options', *CLS_OPTIONS)
    return work_dir


def tool_env(**extra: str) -> Dict[str, str]:
    """The environment of a tool process: eager kernels, this checkout."""
    return dict(
        os.environ, MMDYNACT_BACKEND='eager', PYTHONPATH=str(REPO), **extra)


def _run(command: List[str], cwd: Path, env: Dict[str, str],
         check: bool) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in command], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(map(str, command))} failed '
                             f'({proc.returncode}):\n{proc.stdout[-6000:]}')
    return proc


def run_python(workspace: Path, tool: str, *args,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python REPO/<tool> args`` in ``workspace``."""
    return _run([sys.executable, REPO / tool, *args], workspace, tool_env(),
                check)


def run_script(workspace: Path, script: str,
               *args) -> subprocess.CompletedProcess:
    """Run the shell script ``REPO/tools/<script>`` on a free port."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = str(s.getsockname()[1])
    return _run(['bash', REPO / 'tools' / script, *args], workspace,
                tool_env(PYTHON=sys.executable, PORT=port), True)


def train_losses(work_dir: Path) -> List[float]:
    """The ``loss`` values a training run logged, in order."""
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    return [
        entry['loss'] for log in logs
        for entry in map(json.loads, log.read_text().splitlines())
        if 'loss' in entry
    ]


def read_test_metrics(work_dir: Path) -> dict:
    """The metrics of the latest ``tools/test.py`` run in ``work_dir``."""
    logs = sorted(work_dir.glob('*/[0-9]*_[0-9]*.json'))
    assert logs, f'no test metrics in {work_dir}'
    return json.loads(logs[-1].read_text())
