"""tools/test.py refuses a checkpoint that does not cover the model."""
import re
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mmdynact.engine import CheckpointCoverageHook, CheckpointMismatchError
from tests.tiny_workspace import (SEG_CONFIG, last_checkpoint,
                                  read_test_metrics, run_python)


def _model():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))


def _check(checkpoint: dict) -> None:
    hook = CheckpointCoverageHook('ckpt.pth', 'add --allow-partial-checkpoint')
    hook.after_load_checkpoint(SimpleNamespace(model=_model()), checkpoint)


def _state(**changes) -> dict:
    state = dict(_model().state_dict())
    for key, value in changes.items():
        key = key.replace('__', '.')
        if value is None:
            del state[key]
        else:
            state[key] = value
    return state


def test_checkpoint_of_the_model_passes():
    _check(dict(state_dict=_state(), meta={}))
    _check(_state())  # a bare state dict, as mmengine accepts
    # DDP's prefix (mmengine strips it); a BN counter torch fills in; keys
    # the model does not have (e.g. a head left out of the test config)
    _check(
        dict(
            state_dict={
                f'module.{key}': value
                for key, value in _state(**{
                    '1__num_batches_tracked': None,
                    'aux__weight': torch.zeros(1)
                }).items()
            }))


@pytest.mark.parametrize('changes, listed', [
    ({
        '0__bias': None
    }, r'missing keys \(1\): 0.bias'),
    ({
        '1__weight': torch.ones(5)
    }, r'shape \(checkpoint vs model\) \(1\): 1.weight: \(5,\) vs \(4,\)'),
])
def test_checkpoint_that_leaves_a_gap_is_refused(changes, listed):
    state = _state(**changes, extra__weight=torch.zeros(1))
    with pytest.raises(CheckpointMismatchError) as error:
        _check(dict(state_dict=state))
    message = str(error.value)
    assert message.startswith('ckpt.pth does not cover the model of this '
                              'config (Sequential):')
    assert re.search(listed, message), message
    assert 'unexpected keys (1): extra.weight' in message
    assert message.endswith('add --allow-partial-checkpoint.')


def test_another_models_checkpoint_fails_unless_allowed(
        trained_classifier, trained_segmentor, tiny_workspace, tmp_path):
    classifier = last_checkpoint(trained_classifier)
    refused = run_python(
        tiny_workspace,
        'tools/test.py',
        SEG_CONFIG,
        classifier,
        '--work-dir',
        tmp_path,
        check=False)
    assert refused.returncode != 0
    assert (f'{classifier} does not cover the model of this config '
            '(EncoderDecoder)') in refused.stdout
    assert 'missing keys (' in refused.stdout
    assert 'backbone.conv1.weight' in refused.stdout
    assert 'unexpected keys (' in refused.stdout
    assert 'add --allow-partial-checkpoint' in refused.stdout
    assert not list(tmp_path.glob('*/[0-9]*_[0-9]*.json'))  # no metrics
    run_python(tiny_workspace, 'tools/test.py', SEG_CONFIG, classifier,
               '--work-dir', tmp_path, '--allow-partial-checkpoint')
    assert 'mIoU' in read_test_metrics(tmp_path)
