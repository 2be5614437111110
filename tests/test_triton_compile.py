"""Every Triton kernel compiles for Hopper (sm_90) and Ampere (sm_80) with
Triton's real compiler, without a GPU, within the register budget and
without spilling (:mod:`mmdynact.testing.triton_compile`).

Each architecture compiles in a process of its own, the two side by side:
Triton reads ``TRITON_INTERPRET`` (which this test session sets) when the
kernels are defined.
"""
import json
import os
import subprocess
import sys

import pytest

from mmdynact.models.activations import ACTIVATIONS
from mmdynact.testing import triton_compile

pytest.importorskip('triton')


@pytest.fixture(scope='module')
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp('triton-compile')
    env = {k: v for k, v in os.environ.items() if k != 'TRITON_INTERPRET'}
    runs = {}
    for sm in (90, 80):
        out = folder / f'sm{sm}.json'
        runs[sm] = (out,
                    subprocess.Popen([
                        sys.executable, '-m',
                        'mmdynact.testing.triton_compile', '--sm',
                        str(sm), '--json',
                        str(out)
                    ],
                                     env=env,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     text=True))
    found = {}
    for sm, (out, process) in runs.items():
        log, _ = process.communicate(timeout=600)
        assert out.exists(), log[-3000:]
        found[sm] = (json.loads(out.read_text()), log)
    return found


@pytest.mark.parametrize('sm', [90, 80])
def test_every_kernel_compiles_lean(reports, sm):
    report, log = reports[sm]
    assert report['cases'] == len(triton_compile.representative_cases())
    assert triton_compile.problems(report) == [], log[-3000:]
    for kernel in report['kernels']:
        assert kernel['registers'] <= triton_compile.MAX_REGISTERS
        assert kernel['local'] == kernel['stack'] == 0


def test_cases_cover_every_layer_dtype_class_layout_and_mode():
    cases = triton_compile.representative_cases()
    names = [name for name, cls in ACTIVATIONS.items() if cls.spec.kernels]
    assert [name for name, _ in triton_compile.layers()] == names
    for layer in names:
        mine = [case for case in cases if case.layer == layer]
        assert {case.dtype for case in mine} >= {'float32', 'bfloat16'}
        assert {case.channels_last for case in mine} == {False, True}
        assert {case.train for case in mine} == {False, True}


def test_limits_are_enforced():
    spilling = triton_compile.KernelResources('k', 64, 8, 0, 0, 4, '')
    greedy = triton_compile.KernelResources('k', 200, 0, 0, 0, 4, '')
    assert spilling.problems() and greedy.problems()
    report = dict(
        failures=['case: boom'],
        kernels=[greedy._asdict()],
        never_compiled=['funnel._kernel'])
    assert len(triton_compile.problems(report)) == 3
