"""Known incompatibilities: detection, errors that name the fix, check_env.

The real failures are raised by the real code; which versions are installed
is faked where this environment does not have the troublesome ones (see
the ``transformers_5`` fixture). With the real transformers 5.23.0 and numpy
2.3.5 the same errors were checked by hand.
"""
import importlib
import runpy
import sys
from pathlib import Path

import mmpretrain
import numpy as np
import pytest
import torch
from mmengine.registry import MODELS
from mmengine.runner import save_checkpoint

from mmdynact import check_env
from mmdynact.cli import load_toolbox_config
from mmdynact.environment import (KNOWN_ISSUES, IncompatibleEnvironment,
                                  explain_incompatibility, issue_behind,
                                  known_issues)
from mmdynact.environment.known_issues import (NUMPY_2_XTCOCOTOOLS,
                                               SETUPTOOLS_82,
                                               TORCH_WEIGHTS_ONLY,
                                               TRANSFORMERS_5)
from tests.tiny_workspace import CLS_CONFIG, DET_CONFIG

#: this project's pinned stack, unaffected but for torch's weights_only
PINNED = dict(
    torch='2.13.0',
    numpy='1.26.4',
    setuptools='81.0.0',
    mmengine='0.10.7',
    mmpretrain='1.2.0',
    transformers=None,
    xtcocotools='1.14.3')
TRANSFORMERS_FIX = 'Fix: pip install "transformers<5" (or pip uninstall ' \
    'transformers'


@pytest.mark.parametrize('issue, changes, affected', [
    (TRANSFORMERS_5, dict(transformers='5.0.0'), True),
    (TRANSFORMERS_5, dict(transformers='5.0.0rc1'), True),
    (TRANSFORMERS_5, dict(transformers='4.57.6'), False),
    (TRANSFORMERS_5, dict(transformers='5.23.0', mmpretrain='1.3.0'), False),
    (NUMPY_2_XTCOCOTOOLS, dict(numpy='2.3.5'), True),
    (NUMPY_2_XTCOCOTOOLS, dict(numpy='2.3.5', xtcocotools=None), False),
    (SETUPTOOLS_82, dict(setuptools='82.0.0'), True),
    (TORCH_WEIGHTS_ONLY, dict(torch='2.6.0+cu124'), True),
    (TORCH_WEIGHTS_ONLY, dict(torch='2.5.1'), False),
    (TORCH_WEIGHTS_ONLY, dict(mmengine='0.11.0'), False),
])
def test_issue_follows_the_installed_versions(issue, changes, affected):
    assert not any(
        other.affects(PINNED)
        for other in KNOWN_ISSUES if other is not TORCH_WEIGHTS_ONLY)
    assert issue.affects({**PINNED, **changes}) is affected


#: the module whose import fails under transformers 5
BLIP_LANGUAGE_MODEL = Path(mmpretrain.__file__).parent / \
    'models/multimodal/blip/language_model.py'


@pytest.fixture
def transformers_5(monkeypatch):
    """Imports as with transformers 5 installed (it is not, here).

    With transformers >= 4.28 installed, importing mmpretrain's models (and
    mmdet's, which import them) runs its BLIP language model; under
    transformers 5 its ``try``-import of transformers' base classes fails
    and it subclasses ``None``. Without transformers that ``try`` fails the
    same way, so running the real module reproduces the real failure.
    """
    real_import = importlib.import_module

    def import_module(name, *args, **kwargs):
        if name in ('mmdet.models', 'mmpretrain.models',
                    'mmdynact.models.backbones.act_resnet'):
            runpy.run_path(str(BLIP_LANGUAGE_MODEL))
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, 'import_module', import_module)
    monkeypatch.setattr(known_issues, 'installed_versions', lambda: {
        **PINNED, 'transformers': '5.23.0'
    })


@pytest.mark.parametrize('config, package', [(DET_CONFIG, 'mmdet'),
                                             (CLS_CONFIG, 'mmpretrain')])
def test_tools_name_the_transformers_fix(config, package, transformers_5):
    with pytest.raises(IncompatibleEnvironment) as error:
        load_toolbox_config(str(config))  # what every tool starts with
    message = str(error.value)
    assert message.startswith(
        f'importing {package}.models failed because of transformers >= 5 '
        'with mmpretrain 1.2 (transformers 5.23.0, mmpretrain 1.2.0 '
        'installed). ')
    assert message.splitlines()[-1].startswith(TRANSFORMERS_FIX)
    cause = error.value.__cause__
    assert isinstance(cause, TypeError)
    assert str(cause) == 'NoneType takes no arguments'


def test_act_resnet_names_the_transformers_fix(transformers_5):
    with pytest.raises(
            IncompatibleEnvironment,
            match=r'building ActResNet \(it imports mmpretrain\) '
            'failed because of transformers >= 5'):
        MODELS.build(dict(type='ActResNet', depth=18))


def test_same_failure_without_transformers_5_is_not_explained():
    with pytest.raises(TypeError, match='NoneType takes no arguments'):
        with explain_incompatibility('importing mmpretrain.models'):
            runpy.run_path(str(BLIP_LANGUAGE_MODEL))


def test_config_loading_names_the_setuptools_fix(monkeypatch):
    # setuptools 82 removed pkg_resources, which mmengine 0.10.7 uses to
    # find 'mmdet::' configs
    monkeypatch.setitem(sys.modules, 'pkg_resources', None)
    with pytest.raises(ModuleNotFoundError, match='pkg_resources'):
        load_toolbox_config(str(DET_CONFIG))  # setuptools 81: unexplained
    monkeypatch.setattr(known_issues, 'installed_versions', lambda: {
        **PINNED, 'setuptools': '82.0.0'
    })
    with pytest.raises(
            IncompatibleEnvironment,
            match=r'loading the config .*retinanet.* failed '
            r'because of setuptools >= 82(.|\n)*Fix: pip install '
            '"setuptools<82"'):
        load_toolbox_config(str(DET_CONFIG))


def test_weights_only_failure_is_recognised(tmp_path):
    path = str(tmp_path / 'checkpoint.pth')
    # what mmengine's runner writes: numpy arrays in the message hub
    save_checkpoint(
        dict(
            meta=dict(seed=0),
            message_hub=dict(log_scalars=dict(loss=np.ones(3)))), path)
    with pytest.raises(Exception) as failure:
        torch.load(path)  # torch >= 2.6: weights_only=True
    assert issue_behind(failure.value, PINNED) is TORCH_WEIGHTS_ONLY
    assert issue_behind(failure.value, {**PINNED, 'torch': '2.5.1'}) is None


def test_unrelated_failures_pass_through():
    with pytest.raises(ValueError, match='not ours'):
        with explain_incompatibility('testing'):
            raise ValueError('not ours')


def test_check_env_reports_everything_with_fixes(capsys):
    assert check_env.main() == 0  # this environment is set up
    out = capsys.readouterr().out
    for section in ('versions', 'devices', 'known incompatibilities'):
        assert f'\n{section}\n' in f'\n{out}'
    for name in ('torch', 'mmcv', 'mmpretrain', 'transformers', 'CUDA', 'NCCL',
                 'mmcv ops', 'Triton'):
        assert f'\n  {name} ' in out
    words = ' '.join(out.split())  # the long lines are wrapped
    for issue in KNOWN_ISSUES:
        assert f'{issue.title}; installed: ' in words
        assert f'fix: {issue.fix}' in words
    triton = next(line for line in out.splitlines()
                  if line.startswith('  Triton'))
    if not torch.cuda.is_available():
        assert 'no GPU: Triton compiles kernels for GPUs only' in triton
    assert triton.endswith('works')
    assert out.strip().endswith('no known incompatibility left unhandled')


def test_check_env_marks_a_present_issue():
    lines, unhandled = check_env.issue_lines({
        **PINNED, 'transformers': '5.0.0'
    })
    marks = dict((line.split(';')[0], mark) for mark, line in lines)
    assert marks == {
        TRANSFORMERS_5.title: 'PROBLEM',
        NUMPY_2_XTCOCOTOOLS.title: 'ok',
        SETUPTOOLS_82.title: 'ok',
        TORCH_WEIGHTS_ONLY.title: 'handled',
    }
    assert unhandled == 1
