"""How make env installs mmcv: the decision (probes faked), probes, running.

The CUDA build itself needs a GPU machine; here every branch of the decision
is checked, the probes against what torch and mmcv say in this process, and
the install step with a pip stand-in that records what it was given.
"""
import ast
import dataclasses
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from mmdynact.environment import mmcv_build
from mmdynact.environment.mmcv_build import Machine, Plan, decide

SCRIPT = Path(mmcv_build.__file__)
#: a 2-core machine without GPU, as the CI one (it has nvcc 13.0)
CPU_MACHINE = Machine(
    torch_cuda='13.0',
    gpu_archs=(),
    requested_archs=None,
    nvcc='13.0',
    cpus=2,
    mmcv_installed=False,
    mmcv_ops=None)
#: one H100, CUDA 13 toolkit, 16 cores
GPU_MACHINE = dataclasses.replace(CPU_MACHINE, gpu_archs=('9.0', ), cpus=16)
CPU_ENV = dict(MMCV_WITH_OPS='1', FORCE_CUDA='0', CUDA_VISIBLE_DEVICES='')
REBUILD = ('--force-reinstall', '--no-deps', '--no-cache-dir')


def test_gpu_machine_builds_cuda_ops_for_its_arch():
    plan = decide(GPU_MACHINE)
    assert plan == Plan(
        'cuda',
        True,
        'torch CUDA 13.0, nvcc 13.0, GPU arch 9.0',
        dict(
            MMCV_WITH_OPS='1',
            FORCE_CUDA='1',
            TORCH_CUDA_ARCH_LIST='9.0',
            MAX_JOBS='14'),
        ('--no-build-isolation', '--no-cache-dir', '--no-binary', 'mmcv'),
        build_tools=('ninja', ))  # MAX_JOBS parallel compiles need ninja
    assert plan.describe().startswith(
        'mmcv 2.1.0 with CUDA ops (torch CUDA 13.0, nvcc 13.0, GPU arch '
        '9.0): pip install ninja, then MMCV_WITH_OPS=1 FORCE_CUDA=1 '
        'TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=14 pip install '
        '--no-build-isolation')


def test_every_visible_arch_or_the_requested_ones():
    two_kinds = dataclasses.replace(GPU_MACHINE, gpu_archs=('8.0', '9.0'))
    assert decide(two_kinds).env['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0'
    # e.g. a login node without GPU, building for the compute nodes
    requested = dataclasses.replace(CPU_MACHINE, requested_archs='9.0+PTX')
    plan = decide(requested)
    assert plan.ops == 'cuda'
    assert plan.env['TORCH_CUDA_ARCH_LIST'] == '9.0+PTX'
    assert plan.env['MAX_JOBS'] == '1'  # never below one job


@pytest.mark.parametrize(
    'change, reason', [
        (dict(gpu_archs=()),
         'no CUDA GPU is visible; to build for one anyway, '
         'set TORCH_CUDA_ARCH_LIST'),
        (dict(torch_cuda=None), 'torch is a CPU build'),
        (dict(nvcc=None),
         'no nvcc found; install the CUDA 13.0 toolkit or set '
         'CUDA_HOME'),
        (dict(nvcc='12.4'), 'nvcc is CUDA 12.4 but torch was built with CUDA '
         '13.0; install a CUDA 13.x toolkit'),
    ],
    ids=['no-gpu', 'cpu-torch', 'no-nvcc', 'nvcc-major-differs'])
def test_cpu_ops_otherwise_with_the_reason(change, reason):
    plan = decide(dataclasses.replace(GPU_MACHINE, **change))
    assert (plan.ops, plan.build, plan.env) == ('cpu', True, CPU_ENV)
    assert plan.reason.startswith(reason)
    # as before: a wheel from --find-links may serve, no extra tools
    assert plan.pip_args == ('--no-build-isolation', )
    assert plan.build_tools == ()
    assert 'a source build takes about 45 min on 2 cores' in plan.describe()


@pytest.mark.parametrize(
    'machine, ops', [
        (dataclasses.replace(GPU_MACHINE, mmcv_ops='cuda'), 'cuda'),
        (dataclasses.replace(CPU_MACHINE, mmcv_ops='cuda'), 'cuda'),
        (dataclasses.replace(CPU_MACHINE, mmcv_ops='cpu'), 'cpu'),
    ],
    ids=['cuda-on-gpu', 'cuda-on-cpu', 'cpu-on-cpu'])
def test_working_install_is_kept(machine, ops):
    machine = dataclasses.replace(machine, mmcv_installed=True)
    assert decide(machine) == Plan(ops, build=False, reason='installed')


def test_cpu_ops_are_rebuilt_where_cuda_ops_can_be():
    plan = decide(
        dataclasses.replace(GPU_MACHINE, mmcv_installed=True, mmcv_ops='cpu'))
    assert plan.ops == 'cuda' and plan.build
    assert plan.pip_args == ('--no-build-isolation', *REBUILD, '--no-binary',
                             'mmcv')


def test_unimportable_install_is_rebuilt():
    # e.g. built against another torch: pip alone would keep it
    plan = decide(dataclasses.replace(CPU_MACHINE, mmcv_installed=True))
    assert (plan.ops, plan.build) == ('cpu', True)
    assert plan.pip_args == ('--no-build-isolation', *REBUILD)


def _mmcv_ops_here() -> str:
    from mmcv.ops import get_compiling_cuda_version
    return 'cpu' if get_compiling_cuda_version() == 'not available' else 'cuda'


def test_probes_agree_with_torch_and_mmcv():
    machine = mmcv_build.probe()
    assert machine.torch_cuda == torch.version.cuda
    assert bool(machine.gpu_archs) == torch.cuda.is_available()
    assert machine.mmcv_installed
    assert machine.mmcv_ops == _mmcv_ops_here()
    assert machine.nvcc is None or machine.nvcc.count('.') == 1


def _recording_pip(out: Path):
    """A pip command that appends its arguments and build variables."""
    code = ('import json, os, sys; print(json.dumps(dict(args=sys.argv[1:], '
            'env={k: os.environ.get(k) for k in ("MMCV_WITH_OPS", '
            f'"FORCE_CUDA", "CUDA_VISIBLE_DEVICES")}})), file=open('
            f'{str(out)!r}, "a"))')
    return [sys.executable, '-c', code]


def test_carry_out_runs_pip_and_checks_what_was_built(tmp_path):
    installed = _mmcv_ops_here()
    other = 'cuda' if installed == 'cpu' else 'cpu'
    record = tmp_path / 'pip.json'
    plan = Plan(
        installed,
        True,
        'test',
        CPU_ENV, ('--no-build-isolation', ),
        build_tools=('ninja', ))
    assert mmcv_build.carry_out(plan, _recording_pip(record)) == (
        f'mmcv 2.1.0 with {mmcv_build.OPS_NAMES[installed]}')
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert calls[0]['args'] == ['ninja']
    assert calls[1] == dict(
        args=['--no-build-isolation', 'mmcv==2.1.0'], env=CPU_ENV)
    record.unlink()
    with pytest.raises(
            SystemExit,
            match=f'expected mmcv with '
            f'{mmcv_build.OPS_NAMES[other]} after the install'):
        mmcv_build.carry_out(
            dataclasses.replace(plan, ops=other), _recording_pip(record))


def test_script_runs_before_mmdynact_is_installed(tmp_path):
    # tools/setup_env.sh runs it by path: only the standard library at the
    # top (torch is imported by probe(), once installed)
    tree = ast.parse(SCRIPT.read_text())
    top_level = {
        alias.name.split('.')[0]
        for node in tree.body if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split('.')[0]
        for node in tree.body if isinstance(node, ast.ImportFrom)
    }
    assert top_level <= set(sys.stdlib_module_names), top_level
    usage = subprocess.run(
        [sys.executable, '-I', str(SCRIPT)],
        cwd=tmp_path,
        capture_output=True,
        text=True)
    assert usage.returncode != 0
    assert 'usage: python mmdynact/environment/mmcv_build.py PYTHON -m pip ' \
        'install' in usage.stderr


def _wheel(folder: Path, name: str = 'mmcv', version: str = '2.1.0') -> Path:
    """A minimal valid wheel (metadata only), as --find-links offers one."""
    dist_info = f'{name}-{version}.dist-info'
    files = {
        f'{dist_info}/METADATA':
        f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n',
        f'{dist_info}/WHEEL':
        'Wheel-Version: 1.0\nGenerator: test\n'
        'Root-Is-Purelib: true\nTag: py3-none-any\n',
    }
    files[f'{dist_info}/RECORD'] = ''.join(f'{path},,\n' for path in files)
    folder.mkdir(exist_ok=True)
    path = folder / f'{name}-{version}-py3-none-any.whl'
    with zipfile.ZipFile(path, 'w') as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def _offline_pip(find_links: Path):
    return [
        sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check',
        '--no-index', '--find-links',
        str(find_links)
    ]


def test_pip_says_whether_it_takes_a_wheel(tmp_path):
    cpu_plan = decide(CPU_MACHINE)
    wheel = _wheel(tmp_path / 'wheels')
    assert mmcv_build.find_wheel(cpu_plan, _offline_pip(
        tmp_path / 'wheels')) == str(wheel)
    # no wheel there (only another version): pip would build the source
    _wheel(tmp_path / 'other', version='2.0.1')
    assert mmcv_build.find_wheel(cpu_plan,
                                 _offline_pip(tmp_path / 'other')) is None
    # CUDA ops are always built (--no-binary mmcv), pip is not asked
    assert mmcv_build.find_wheel(decide(GPU_MACHINE), ['false']) is None


def test_report_names_the_wheel_or_none():

    def report(url):
        return dict(install=[
            dict(metadata=dict(name='ninja'), download_info=dict(url='x')),
            dict(metadata=dict(name='mmcv'), download_info=dict(url=url))
        ])

    wheel = 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'
    assert mmcv_build.wheel_in_report(
        report(f'file:///work/shared/wheels/{wheel}')) == (
            f'/work/shared/wheels/{wheel}')
    assert mmcv_build.wheel_in_report(
        report(f'https://example.org/{wheel}')) == (
            f'https://example.org/{wheel}')
    assert mmcv_build.wheel_in_report(
        report('https://files.pythonhosted.org/mmcv-2.1.0.tar.gz')) is None
    assert mmcv_build.wheel_in_report(dict(install=[])) is None


def test_messages_with_a_wheel_say_so():
    wheel = '/work/shared/wheels/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'
    plan = dataclasses.replace(decide(CPU_MACHINE), wheel=wheel)
    line = plan.describe()
    assert line.startswith('mmcv 2.1.0 with CPU ops only (no CUDA GPU is '
                           'visible')
    assert line.endswith(f'pip install --no-build-isolation mmcv==2.1.0 '
                         f'takes the wheel {wheel} (no source build)')
    assert 'source build takes' not in line and 'MMCV_WITH_OPS' not in line
    installed = 'mmcv 2.1.0 with CPU ops only'
    assert plan.done(installed) == (
        f'installed {installed} from the wheel {wheel}')
    assert decide(CPU_MACHINE).done(installed) == (
        f'built {installed} from source')
