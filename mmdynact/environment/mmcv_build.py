"""How ``make env`` installs mmcv 2.1.0 with compiled ops.

There is no prebuilt mmcv 2.1.0 for torch > 2.1, so pip builds it from source
against the installed torch (``--no-build-isolation``; setuptools < 82), unless
a wheel is found through ``--find-links`` / ``PIP_FIND_LINKS``:

* **CUDA ops** when torch is a CUDA build, the GPUs to build for are known
  (the visible ones, or ``TORCH_CUDA_ARCH_LIST`` if set) and an ``nvcc`` of
  torch's CUDA major version is found: ``MMCV_WITH_OPS=1 FORCE_CUDA=1
  TORCH_CUDA_ARCH_LIST=<archs> MAX_JOBS=<cores - 2>``, with ninja (without
  it torch compiles one file at a time), never from a wheel or pip's cache
  (they may hold a CPU build). 5.5 min on 16 cores (H100 machine, torch
  2.11, CUDA 13, Python 3.12).
* **CPU ops** otherwise: ``MMCV_WITH_OPS=1``, with the GPUs hidden (mmcv's
  ``setup.py`` builds CUDA ops whenever one is visible). About 45 min on 2
  cores.

An installed mmcv whose ops import is kept, unless it has CPU ops only and
CUDA ops can be built here. Whether pip would take a wheel is asked of pip
itself (a dry run that may take only a wheel, with ``--report``), so the
messages say "from the wheel ..." or give the source build's time.

``tools/setup_env.sh`` runs this file by path, before mmdynact is
installed, with the pip command to use::

    python mmdynact/environment/mmcv_build.py PYTHON -m pip install ARGS...

so it uses the standard library only (and torch, installed before).
"""
import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from typing import Dict, Optional, Sequence, Tuple
from urllib.parse import unquote, urlparse

MMCV = 'mmcv==2.1.0'
#: prints 'cuda' or 'cpu': how the installed mmcv's ops were compiled
MMCV_OPS_PROBE = ('from mmcv.ops import get_compiling_cuda_version; '
                  "print('cpu' if get_compiling_cuda_version() == "
                  "'not available' else 'cuda')")
OPS_NAMES = {'cuda': 'CUDA ops', 'cpu': 'CPU ops only'}
#: measured build times, for the message
BUILD_TIMES = {
    'cuda': '5.5 min on 16 cores of an H100 machine',
    'cpu': 'about 45 min on 2 cores',
}


@dataclass(frozen=True)
class Machine:
    """What decides the build (every field is probed by :func:`probe`).

    Attributes:
        torch_cuda: The CUDA version torch was built with, None for a CPU
            build of torch.
        gpu_archs: Compute capabilities of the visible GPUs, e.g.
            ``('9.0', )``.
        requested_archs: ``TORCH_CUDA_ARCH_LIST`` if the user set it.
        nvcc: Release of the ``nvcc`` found (e.g. ``'13.0'``), None if none.
        cpus: CPU cores.
        mmcv_installed: Whether an mmcv distribution is installed.
        mmcv_ops: The installed mmcv's ops: ``'cuda'``, ``'cpu'``, or None
            when ``mmcv.ops`` cannot be imported (not installed, or built
            against another torch).
    """
    torch_cuda: Optional[str]
    gpu_archs: Tuple[str, ...]
    requested_archs: Optional[str]
    nvcc: Optional[str]
    cpus: int
    mmcv_installed: bool
    mmcv_ops: Optional[str]


@dataclass(frozen=True)
class Plan:
    """What to do about mmcv.

    Attributes:
        ops: The ops the installed mmcv will have, ``'cuda'`` or ``'cpu'``.
        build: Whether to run pip (False: keep the installed mmcv).
        reason: Why these ops.
        env: Variables for the build.
        pip_args: Arguments added to the pip command.
        build_tools: Installed first.
        wheel: The wheel pip takes instead of building (see
            :func:`find_wheel`), None if it builds the source.
    """
    ops: str
    build: bool
    reason: str
    env: Dict[str, str] = field(default_factory=dict)
    pip_args: Tuple[str, ...] = ()
    build_tools: Tuple[str, ...] = ()
    wheel: Optional[str] = None

    def describe(self) -> str:
        """One line: what happens and why."""
        if not self.build:
            return f'mmcv with {OPS_NAMES[self.ops]} already installed'
        tools = (f'pip install {" ".join(self.build_tools)}, then '
                 if self.build_tools else '')
        install = f'pip install {" ".join(self.pip_args)} {MMCV}'
        if self.wheel is not None:
            return (f'mmcv 2.1.0 with {OPS_NAMES[self.ops]} ({self.reason}): '
                    f'{tools}{install} takes the wheel {self.wheel} (no '
                    'source build)')
        settings = ' '.join(f'{key}={shlex.quote(value)}'
                            for key, value in self.env.items())
        return (f'mmcv 2.1.0 with {OPS_NAMES[self.ops]} ({self.reason}): '
                f'{tools}{settings} {install} (a source build takes '
                f'{BUILD_TIMES[self.ops]})')

    def done(self, installed: str) -> str:
        """One line: ``installed`` (what :func:`carry_out` says) and how."""
        if self.wheel is not None:
            return f'installed {installed} from the wheel {self.wheel}'
        return f'built {installed} from source'


def _major(version: str) -> str:
    return version.split('.')[0]


def cuda_blocker(machine: Machine) -> Optional[str]:
    """Why CUDA ops cannot be built on ``machine``; None if they can."""
    if machine.torch_cuda is None:
        return 'torch is a CPU build'
    if not (machine.requested_archs or machine.gpu_archs):
        return ('no CUDA GPU is visible; to build for one anyway, set '
                'TORCH_CUDA_ARCH_LIST, e.g. TORCH_CUDA_ARCH_LIST=9.0')
    if machine.nvcc is None:
        return (f'no nvcc found; install the CUDA {machine.torch_cuda} '
                'toolkit or set CUDA_HOME to it')
    if _major(machine.nvcc) != _major(machine.torch_cuda):
        return (f'nvcc is CUDA {machine.nvcc} but torch was built with CUDA '
                f'{machine.torch_cuda}; install a CUDA '
                f'{_major(machine.torch_cuda)}.x toolkit or set CUDA_HOME '
                'to one')
    return None


def decide(machine: Machine) -> Plan:
    """The :class:`Plan` for ``machine``."""
    blocker = cuda_blocker(machine)
    if machine.mmcv_ops == 'cuda' or (machine.mmcv_ops == 'cpu' and blocker):
        return Plan(machine.mmcv_ops, build=False, reason='installed')
    pip_args = ('--no-build-isolation', )
    if machine.mmcv_installed:  # unusable, or CPU ops where CUDA can be
        pip_args += ('--force-reinstall', '--no-deps', '--no-cache-dir')
    if blocker:
        # mmcv's setup.py builds CUDA ops whenever a GPU is visible
        env = dict(MMCV_WITH_OPS='1', FORCE_CUDA='0', CUDA_VISIBLE_DEVICES='')
        return Plan('cpu', True, blocker, env, pip_args)
    archs = machine.requested_archs or ';'.join(machine.gpu_archs)
    env = dict(
        MMCV_WITH_OPS='1',
        FORCE_CUDA='1',
        TORCH_CUDA_ARCH_LIST=archs,
        MAX_JOBS=str(max(1, machine.cpus - 2)))
    reason = (f'torch CUDA {machine.torch_cuda}, nvcc {machine.nvcc}, '
              f'GPU arch {archs}')
    if '--no-cache-dir' not in pip_args:
        pip_args += ('--no-cache-dir', )
    return Plan(
        'cuda',
        True,
        reason,
        env,
        pip_args + ('--no-binary', 'mmcv'),
        build_tools=('ninja', ))


def installed_mmcv_ops() -> Optional[str]:
    """``'cuda'``/``'cpu'`` for the installed mmcv's ops, None if broken."""
    result = subprocess.run([sys.executable, '-c', MMCV_OPS_PROBE],
                            capture_output=True,
                            text=True)
    ops = result.stdout.strip()
    return ops if result.returncode == 0 and ops in OPS_NAMES else None


def nvcc_release() -> Optional[str]:
    """Release of the nvcc torch's extension builder would use, if any.

    Looked for as torch does: ``$CUDA_HOME``, ``$CUDA_PATH``, ``PATH``,
    ``/usr/local/cuda``.
    """
    homes = [os.environ.get('CUDA_HOME'), os.environ.get('CUDA_PATH')]
    candidates = [os.path.join(home, 'bin', 'nvcc') for home in homes if home]
    candidates += [shutil.which('nvcc') or '', '/usr/local/cuda/bin/nvcc']
    for nvcc in candidates:
        if nvcc and os.access(nvcc, os.X_OK):
            out = subprocess.run([nvcc, '--version'],
                                 capture_output=True,
                                 text=True).stdout
            match = re.search(r'release (\d+\.\d+)', out)
            if match:
                return match.group(1)
    return None


def _is_installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
        return True
    except metadata.PackageNotFoundError:
        return False


def probe() -> Machine:
    """Probe this machine (imports torch)."""
    import torch
    archs = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(index)
            if f'{major}.{minor}' not in archs:
                archs.append(f'{major}.{minor}')
    return Machine(
        torch_cuda=torch.version.cuda,
        gpu_archs=tuple(archs),
        requested_archs=os.environ.get('TORCH_CUDA_ARCH_LIST') or None,
        nvcc=nvcc_release(),
        cpus=os.cpu_count() or 1,
        mmcv_installed=_is_installed('mmcv'),
        mmcv_ops=installed_mmcv_ops())


def wheel_in_report(report: dict) -> Optional[str]:
    """The mmcv wheel in a pip installation report; None if it is none.

    Args:
        report: What ``pip install --report`` writes (format version 1):
            ``install`` lists each distribution with ``metadata.name`` and
            ``download_info.url``.
    """
    for item in report.get('install', []):
        if item['metadata']['name'].lower() != 'mmcv':
            continue
        url = item['download_info']['url']
        if not url.endswith('.whl'):
            return None
        parsed = urlparse(url)
        return unquote(parsed.path) if parsed.scheme == 'file' else url
    return None


def find_wheel(plan: Plan, pip: Sequence[str]) -> Optional[str]:
    """The wheel ``pip`` would install mmcv from, None if it would build.

    pip itself answers: a dry run of the plan's install that may take mmcv
    only as a wheel (``--only-binary mmcv``; ``--report``, pip >= 22.2),
    e.g. one found through ``--find-links`` / ``PIP_FIND_LINKS``. It fails
    (None) where there is none; a plan with ``--no-binary mmcv`` builds.
    """
    if 'mmcv' in plan.pip_args:  # --no-binary mmcv
        return None
    with tempfile.TemporaryDirectory() as folder:
        report = os.path.join(folder, 'report.json')
        dry_run = ('--dry-run', '--quiet', '--no-deps', '--ignore-installed',
                   '--only-binary', 'mmcv', '--report', report)
        result = subprocess.run([*pip, *plan.pip_args, *dry_run, MMCV],
                                env={
                                    **os.environ,
                                    **plan.env
                                },
                                capture_output=True)
        if result.returncode != 0 or not os.path.isfile(report):
            return None
        with open(report) as f:
            return wheel_in_report(json.load(f))


def carry_out(plan: Plan, pip: Sequence[str]) -> str:
    """Build as ``plan`` says (it must build) with ``pip``; what is installed.

    Raises:
        SystemExit: If the installed mmcv does not have ``plan.ops``.
    """
    if plan.build_tools:
        subprocess.run([*pip, *plan.build_tools], check=True)
    subprocess.run([*pip, *plan.pip_args, MMCV],
                   env={
                       **os.environ,
                       **plan.env
                   },
                   check=True)
    ops = installed_mmcv_ops()
    if ops != plan.ops:
        got = 'no importable mmcv.ops' if ops is None else OPS_NAMES[ops]
        raise SystemExit(f'[setup_env] expected mmcv with '
                         f'{OPS_NAMES[plan.ops]} after the install, got '
                         f'{got}; see the pip output above')
    return f'mmcv 2.1.0 with {OPS_NAMES[ops]}'


def main(pip: Sequence[str]) -> None:
    """Install mmcv with the pip command ``pip`` and say what was built."""
    if not pip:
        raise SystemExit('usage: python mmdynact/environment/mmcv_build.py '
                         'PYTHON -m pip install [PIP ARGS...]')
    plan = decide(probe())
    if plan.build:
        plan = dataclasses.replace(plan, wheel=find_wheel(plan, pip))
    print(f'[setup_env] {plan.describe()}', flush=True)
    if plan.build:
        print(f'[setup_env] {plan.done(carry_out(plan, pip))}', flush=True)


if __name__ == '__main__':
    main(sys.argv[1:])
