"""``python -m mmdynact.check_env``: is this environment ready for mmdynact?

Prints the versions of the stack, whether CUDA and NCCL are usable, how
mmcv's ops were compiled, whether Triton runs a kernel (on a machine without
a GPU: whether its interpreter, ``TRITON_INTERPRET=1``, does), and every
known incompatibility (:mod:`mmdynact.environment.known_issues`) with its
fix, marked for this environment. ``make env`` runs it last.

Exit status 1 when a known incompatibility affects this environment and
mmdynact's tools do not work around it; 0 otherwise.
"""
import os
import os.path as osp
import platform
import subprocess
import sys
import textwrap
from typing import List, Mapping, Optional, Tuple

import torch
import torch.distributed as torch_dist

import mmdynact
from mmdynact.environment import KNOWN_ISSUES, installed_versions

#: distributions whose versions are listed
STACK = ('torch', 'torchvision', 'numpy', 'setuptools', 'mmengine', 'mmcv',
         'mmdet', 'mmsegmentation', 'mmpretrain', 'mmpose', 'triton',
         'transformers', 'xtcocotools')
TRITON_PROBE = osp.join(
    osp.dirname(__file__), 'environment', 'triton_probe.py')
TRITON_TIMEOUT = 300
#: width of the wrapped lines
WRAP = 79

Lines = List[Tuple[str, str]]


def version_lines(versions: Mapping[str, Optional[str]]) -> Lines:
    """Python, mmdynact and the :data:`STACK` versions."""
    lines = [('python', platform.python_version()),
             ('mmdynact', f'{mmdynact.__version__} '
              f'({osp.dirname(mmdynact.__file__)})')]
    for name in STACK:
        version = versions[name] or 'not installed'
        if name == 'torch' and versions[name]:
            built = torch.version.cuda
            version += f' (CUDA {built})' if built else ' (CPU build)'
        lines.append((name, version))
    return lines


def device_lines() -> Lines:
    """CUDA, its GPUs, NCCL and gloo."""
    gpu = torch.cuda.is_available()
    if gpu:
        gpus = ', '.join(
            f'{torch.cuda.get_device_name(i)} (sm '
            f'{".".join(map(str, torch.cuda.get_device_capability(i)))})'
            for i in range(torch.cuda.device_count()))
        cuda = f'available: {gpus}'
    else:
        cuda = 'not available (no GPU visible; training runs on CPU)'
    if not torch_dist.is_nccl_available():
        nccl = 'not in this torch build'
    elif gpu:
        version = '.'.join(map(str, torch.cuda.nccl.version()))
        nccl = f'available (NCCL {version})'
    else:
        nccl = ('in this torch build; unusable without a GPU (CPU runs use '
                'gloo)')
    gloo = 'yes' if torch_dist.is_gloo_available() else 'no'
    return [('CUDA', cuda), ('NCCL', nccl), ('gloo', gloo)]


def mmcv_ops_line() -> Tuple[str, str]:
    """How the installed mmcv's ops were compiled."""
    try:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
    except Exception as exc:  # report it; the check goes on
        return 'mmcv ops', f'cannot be imported: {type(exc).__name__}: {exc}'
    cuda = get_compiling_cuda_version()
    kind = ('CPU only (compiled without CUDA)' if cuda == 'not available' else
            f'CUDA (compiled with CUDA {cuda})')
    return 'mmcv ops', f'{kind}, compiler {get_compiler_version()}'


def _run_triton_probe(device: str, interpret: bool) -> str:
    env = dict(os.environ)
    env.pop('TRITON_INTERPRET', None)  # on a GPU: the compiled kernel
    if interpret:
        env['TRITON_INTERPRET'] = '1'
    try:
        result = subprocess.run([sys.executable, TRITON_PROBE, device],
                                env=env,
                                capture_output=True,
                                text=True,
                                timeout=TRITON_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f'fails (no result in {TRITON_TIMEOUT} s)'
    if result.returncode == 0 and result.stdout.strip() == 'ok':
        return 'works'
    last = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return f'fails: {last[-1] if last else f"exit {result.returncode}"}'


def triton_line(triton_version: Optional[str]) -> Tuple[str, str]:
    """Whether a tiny Triton kernel runs (see ``triton_probe.py``)."""
    if triton_version is None:
        return 'Triton', 'not installed (torch.compile uses it on GPUs)'
    if torch.cuda.is_available():
        result = _run_triton_probe('cuda', interpret=False)
        return 'Triton', f'a kernel on the GPU {result}'
    interpreted = _run_triton_probe('cpu', interpret=True)
    return 'Triton', ('no GPU: Triton compiles kernels for GPUs only; '
                      f'its interpreter (TRITON_INTERPRET=1) on CPU '
                      f'{interpreted}')


def issue_lines(versions: Mapping[str, Optional[str]]) -> Tuple[Lines, int]:
    """Every known issue with its fix, marked; how many affect us unhandled.

    Marks: ``ok`` (not affected), ``handled`` (affected; mmdynact's tools
    work around it), ``PROBLEM`` (affected: apply the fix).
    """
    lines, unhandled = [], 0
    for issue in KNOWN_ISSUES:
        details = [f'{issue.title}; installed: {issue.installed(versions)}']
        if not issue.affects(versions):
            mark = 'ok'
        elif issue.handled:
            mark = 'handled'
            details += [f'{issue.handled}.', issue.symptom]
        else:
            mark = 'PROBLEM'
            unhandled += 1
            details.append(issue.symptom)
        lines.append((mark, '\n'.join([*details, f'fix: {issue.fix}'])))
    return lines, unhandled


def _print_section(title: str, lines: Lines) -> None:
    """``title``, then each name and its value, continuation lines wrapped."""
    print(title)
    width = max(len(name) for name, _ in lines)
    indent = ' ' * (width + 4)
    for name, value in lines:
        first, *more = value.split('\n')
        print(f'  {name:<{width}}  {first}')
        for line in more:
            print(
                textwrap.fill(
                    line,
                    WRAP,
                    initial_indent=indent,
                    subsequent_indent=indent))


def main() -> int:
    """Print the report; the exit status (see the module docstring)."""
    versions = installed_versions(STACK)
    _print_section('versions', version_lines(versions))
    _print_section(
        'devices',
        [*device_lines(),
         mmcv_ops_line(),
         triton_line(versions['triton'])])
    issues, unhandled = issue_lines(versions)
    _print_section('known incompatibilities', issues)
    verdict = (f'{unhandled} known incompatibility affects this environment: '
               'apply its fix above'
               if unhandled else 'no known incompatibility left unhandled')
    print(f'check_env: {verdict}')
    return 1 if unhandled else 0


if __name__ == '__main__':
    sys.exit(main())
