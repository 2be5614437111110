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
from typing import Dict, List, Sequence

import pytest
from mmengine.fileio import LocalBackend, register_backend
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import load_from_local

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIGS = REPO / 'configs' / '_tiny_'
CLS_CONFIG = TINY_CONFIGS / 'mobilenet-v2_dyrelu-b_tiny-imagenet.py'
DET_CONFIG = TINY_CONFIGS / 'retinanet_r18-dyrelu-b_fpn_tiny-coco.py'
SEG_CONFIG = TINY_CONFIGS / 'pspnet_r18-d8-frelu_tiny-cityscapes.py'
POSE_CONFIG = TINY_CONFIGS / 'td-hm_mobilenetv2-dyrelu_tiny-coco-64x64.py'
#: two short epochs of the classifier, shared by the tests that compare runs
CLS_OPTIONS = ('train_cfg.max_epochs=2', 'default_hooks.logger.interval=1')
#: a short training of the detector and the segmentor; no validation
#: (tools/test.py evaluates)
DET_OPTIONS = ('train_cfg.max_epochs=1', 'default_hooks.logger.interval=2',
               'train_cfg.val_begin=1000')
SEG_OPTIONS = ('train_cfg.max_iters=12', 'default_hooks.logger.interval=2',
               'train_cfg.val_begin=1000')
#: two epochs of the top-down heatmap model; no validation
POSE_OPTIONS = ('train_cfg.val_begin=1000', 'train_cfg.max_epochs=2',
                'default_hooks.logger.interval=1')


# Session fixtures, registered once through tests/conftest.py (importing them
# into test modules instead would define, and run, them once per module).
@pytest.fixture(scope='session')
def tiny_workspace(tmp_path_factory) -> Path:
    """A folder with the tiny data sets in ``data/tiny``."""
    # imported here: tests/conftest.py loads this module before it chooses
    # how Triton runs, which importing mmdynact would settle
    from mmdynact.tiny_datasets import write_tiny_datasets
    folder = tmp_path_factory.mktemp('tiny_workspace')
    write_tiny_datasets(folder / 'data' / 'tiny')
    return folder


@pytest.fixture(scope='session')
def trained_classifier(tiny_workspace) -> Path:
    """Work dir of the tiny classifier trained for ``CLS_OPTIONS``."""
    return train(tiny_workspace, CLS_CONFIG, 'classifier', CLS_OPTIONS)


@pytest.fixture(scope='session')
def trained_detector(tiny_workspace) -> Path:
    """Work dir of the tiny RetinaNet trained for ``DET_OPTIONS``."""
    return train(tiny_workspace, DET_CONFIG, 'detector', DET_OPTIONS)


@pytest.fixture(scope='session')
def trained_segmentor(tiny_workspace) -> Path:
    """Work dir of the tiny PSPNet trained for ``SEG_OPTIONS``."""
    return train(tiny_workspace, SEG_CONFIG, 'segmentor', SEG_OPTIONS)


@pytest.fixture
def restore_local_io():
    """mmengine's own local file backend and loader, before and after (the
    tools, run in-process, install ours)."""

    def restore():
        register_backend('local', LocalBackend, force=True, prefixes='')
        CheckpointLoader.register_scheme(
            prefixes='', loader=load_from_local, force=True)

    restore()  # other in-process tools may have installed ours already
    yield
    restore()


@pytest.fixture(scope='session')
def trained_pose_estimator(tiny_workspace) -> Path:
    """Work dir of the tiny top-down heatmap model trained for
    ``POSE_OPTIONS``."""
    return train(tiny_workspace, POSE_CONFIG, 'pose_estimator', POSE_OPTIONS)


def train(workspace: Path, config: Path, name: str,
          options: Sequence[str]) -> Path:
    """Train ``config`` with ``tools/train.py``; its work dir."""
    work_dir = workspace / 'work_dirs' / name
    run_python(workspace, 'tools/train.py', config, '--work-dir', work_dir,
               '--cfg-options', *options)
    return work_dir


def last_checkpoint(work_dir: Path) -> Path:
    """The checkpoint a training run in ``work_dir`` saved last."""
    return Path((work_dir / 'last_checkpoint').read_text().strip())


def tool_env(**extra: str) -> Dict[str, str]:
    """The environment of a tool process: eager kernels, this checkout."""
    return dict(
        os.environ, MMDYNACT_BACKEND='eager', PYTHONPATH=str(REPO), **extra)


def _run(command: List[str], cwd: Path, env: Dict[str, str],
         check: bool) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in command],
                          cwd=cwd,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(map(str, command))} failed '
                             f'({proc.returncode}):\n{proc.stdout[-6000:]}')
    return proc


def run_python(workspace: Path,
               tool: str,
               *args,
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
        for entry in map(json.loads,
                         log.read_text().splitlines()) if 'loss' in entry
    ]


def read_test_metrics(work_dir: Path) -> dict:
    """The metrics of the latest ``tools/test.py`` run in ``work_dir``."""
    logs = sorted(work_dir.glob('*/[0-9]*_[0-9]*.json'))
    assert logs, f'no test metrics in {work_dir}'
    return json.loads(logs[-1].read_text())
