"""Compile every Triton kernel the layers launch for a GPU, without a GPU.

Triton's real compiler (TTIR, TTGIR, LLVM, PTX, ptxas) runs on any machine;
only launching needs a device. Here a stand-in driver names the target
(``sm_90``: H100/H200, ``sm_80``: A100), every launch is turned into
Triton's ``warmup`` (bind the arguments, compile on a cache miss, return the
compiled kernel), and the layers run their Triton path on CPU tensors. Each
compiled kernel's registers, spilled bytes (local memory) and stack come
from its cubin through ``cuobjdump``, which ships with Triton.

Run in a process of its own, without ``TRITON_INTERPRET``::

    python -m mmdynact.testing.triton_compile --sm 90 [--cases all] [--json F]

It prints one line per kernel and exits non-zero if a case fails to
compile, or a kernel spills, uses a stack, or needs more than
:data:`MAX_REGISTERS` registers per thread. ``tests/test_triton_compile.py``
runs it for ``sm_90`` and ``sm_80`` on :func:`representative_cases`, which
cover every kernel, both dtype classes (32- and 16-bit), both layouts and
training and evaluation.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Dict, List, NamedTuple, Tuple

#: the most registers per thread a kernel may need (two resident blocks of
#: 128 threads per multiprocessor at 64K registers stream at full bandwidth)
MAX_REGISTERS = 128


class Case(NamedTuple):
    """One training or evaluation step of a layer on the Triton path."""
    layer: str
    shape: Tuple[int, int, int, int]
    dtype: str
    channels_last: bool
    train: bool
    #: the layer's own arguments beside ``channels``
    kwargs: Tuple[Tuple[str, object], ...] = ()


#: shapes of the ResNet-50 (stage 1 and stage 4) and MobileNetV2 configs
SHAPES = ((2, 256, 56, 56), (2, 2048, 7, 7), (2, 144, 28, 28))
#: layer arguments beside ``channels``, as the papers' placements use them
PLACEMENT_ARGUMENTS = {'MetaAconC': (('with_norm', True), )}


def layers() -> List[Tuple[str, tuple]]:
    """``(name, arguments)`` of every registered layer with kernels."""
    from mmdynact.models.activations import ACTIVATIONS
    return [(name, PLACEMENT_ARGUMENTS.get(name, ()))
            for name, cls in ACTIVATIONS.items() if cls.spec.kernels]


def representative_cases() -> List[Case]:
    """Each layer: fp32 contiguous training at ResNet-50's largest map,
    bf16 channels-last and fp16 contiguous training at its smallest (whose
    tiles are the least elongated), fp16 channels-last and fp32 contiguous
    evaluation at MobileNetV2's."""
    cases = []
    for layer, kwargs in layers():
        cases += [
            Case(layer, SHAPES[0], 'float32', False, True, kwargs),
            Case(layer, SHAPES[1], 'bfloat16', True, True, kwargs),
            Case(layer, SHAPES[1], 'float16', False, True, kwargs),
            Case(layer, SHAPES[2], 'float16', True, False, kwargs),
            Case(layer, SHAPES[2], 'float32', False, False, kwargs),
        ]
    return cases


def all_cases() -> List[Case]:
    """Every layer, shape, dtype, layout and mode."""
    return [
        Case(layer, shape, dtype, channels_last, train, kwargs)
        for layer, kwargs in layers() for shape in SHAPES
        for dtype in ('float32', 'bfloat16', 'float16')
        for channels_last in (False, True) for train in (True, False)
    ]


CASE_SETS = {'representative': representative_cases, 'all': all_cases}


class KernelResources(NamedTuple):
    """What ptxas gave one compiled kernel."""
    name: str
    registers: int
    local: int
    stack: int
    shared: int
    warps: int
    #: the specialisation: the first pointer's type and the constexprs
    variant: str

    def problems(self) -> List[str]:
        found = []
        if self.local or self.stack:
            found.append(f'spills (local {self.local} B, stack '
                         f'{self.stack} B)')
        if self.registers > MAX_REGISTERS:
            found.append(f'needs {self.registers} registers '
                         f'(> {MAX_REGISTERS})')
        return found


def _install_stand_in_driver(sm: int):
    """Point Triton at a GPU of compute capability ``sm`` that never runs
    anything; return the registry of compiled kernels."""
    import torch
    from triton.backends.compiler import GPUTarget
    from triton.backends.driver import DriverBase
    from triton.runtime.driver import driver
    from triton.runtime.jit import JITFunction

    class StandInDriver(DriverBase):

        @classmethod
        def is_active(cls):
            return True

        def map_python_to_cpp_type(self, ty):
            from triton.backends.nvidia.driver import ty_to_cpp
            return ty_to_cpp(ty)

        def get_current_target(self):
            return GPUTarget('cuda', sm, 32)

        def get_active_torch_device(self):
            return torch.device('cpu')

        def get_benchmarker(self):
            raise RuntimeError('the stand-in driver runs nothing')

        def get_current_device(self):
            return 0

        def get_current_stream(self, device=None):
            return 0

        def get_device_interface(self):
            return torch.cuda

    driver.set_active(StandInDriver())
    compiled: Dict[Tuple[str, str], object] = {}
    run = JITFunction.run

    def compile_only(self, *args, grid, warmup, **kwargs):
        kernel = run(self, *args, grid=grid, warmup=True, **kwargs)
        module = self.fn.__module__.rsplit('.', 1)[-1]
        compiled.setdefault((f'{module}.{self.fn.__name__}', kernel.hash),
                            kernel)
        return kernel

    JITFunction.run = compile_only
    return compiled


def _use_triton_on_cpu() -> None:
    """Let the layers take their Triton path on CPU tensors, with grids
    sized for a 132-multiprocessor GPU."""
    from mmdynact.ops import backend, triton_support
    triton_support.unusable_reason = lambda device: None
    triton_support._multiprocessors = lambda index: 132
    sized = lambda device, n: max(4 * 132 // max(n, 1), 1)  # noqa: E731
    for name, module in list(sys.modules.items()):
        if name.startswith('mmdynact.ops') and hasattr(module,
                                                       'programs_per_sample'):
            module.programs_per_sample = sized
    backend.set_backend('triton')
    backend.forget_forms()


def _run_case(case: Case) -> None:
    import torch
    from mmengine.registry import MODELS
    dtype = getattr(torch, case.dtype)
    layer = MODELS.build(
        dict(type=case.layer, channels=case.shape[1], **dict(case.kwargs)))
    layer.train(case.train)
    x = torch.randn(case.shape).to(dtype)
    if case.channels_last:
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_()
    if dtype == torch.float32:
        y = layer(x)
    else:  # float32 parameters, a half-precision input: as under autocast
        with torch.autocast('cpu', dtype=dtype):
            y = layer(x)
    y.backward(torch.ones_like(y))


def _resources(name: str, kernel) -> KernelResources:
    import triton
    cuobjdump = os.path.join(
        os.path.dirname(triton.__file__), 'backends', 'nvidia', 'bin',
        'cuobjdump')
    with tempfile.NamedTemporaryFile(suffix='.cubin') as cubin:
        cubin.write(kernel.asm['cubin'])
        cubin.flush()
        report = subprocess.run(
            [cuobjdump, '--dump-resource-usage', cubin.name],
            capture_output=True,
            text=True,
            check=True).stdout
    found = re.search(r'REG:(\d+)\s+STACK:(\d+)\s+SHARED:(\d+)\s+LOCAL:(\d+)',
                      report)
    if found is None:
        raise RuntimeError(f'{name}: cuobjdump reported no resources:\n'
                           f'{report[-500:]}')
    registers, stack, shared, local = map(int, found.groups())
    return KernelResources(name, registers, local, stack, shared,
                           kernel.metadata.num_warps, _variant(kernel.src))


def _variant(source) -> str:
    """``x_ptr=*bf16 BLOCK_C=64 ...``: what tells a kernel's compiled
    variants apart."""
    names = list(source.signature)
    parts = [
        f'{name}={kind}' for name, kind in source.signature.items()
        if kind.startswith('*')
    ][:1]
    for (index, ), value in source.constants.items():
        if value is not None and source.signature[names[index]] == 'constexpr':
            parts.append(f'{names[index]}={getattr(value, "name", value)}')
    return ' '.join(parts)


def _declared_kernels() -> List[str]:
    """Every ``@triton.jit`` kernel (not helper) of :mod:`mmdynact.ops`."""
    from triton.runtime.jit import JITFunction
    names = []
    for name, module in sorted(sys.modules.items()):
        if not name.startswith('mmdynact.ops'):
            continue
        for attr, value in vars(module).items():
            if (isinstance(value, JITFunction) and attr.endswith('_kernel')
                    and value.fn.__module__ == name
                    and attr != '_probe_kernel'):
                names.append(f'{name.rsplit(".", 1)[-1]}.{attr}')
    return names


def compile_cases(sm: int, cases: List[Case]) -> dict:
    """Compile what ``cases`` launch for ``sm``; a JSON-able report."""
    if os.environ.get('TRITON_INTERPRET', '0') == '1':
        raise RuntimeError('unset TRITON_INTERPRET: the interpreter compiles '
                           'nothing')
    compiled = _install_stand_in_driver(sm)
    import mmdynact.models  # noqa: F401  (registers the layers)
    _use_triton_on_cpu()
    failures = []
    for case in cases:
        try:
            _run_case(case)
        except Exception as exc:  # report every failing case
            failures.append(f'{case}: {type(exc).__name__}: '
                            f'{str(exc).splitlines()[0][:300]}')
    kernels = [
        _resources(name, kernel)._asdict()
        for (name, _), kernel in sorted(compiled.items())
    ]
    launched = {kernel['name'] for kernel in kernels}
    return dict(
        sm=sm,
        cases=len(cases),
        failures=failures,
        kernels=kernels,
        never_compiled=[
            name for name in _declared_kernels() if name not in launched
        ])


def problems(report: dict) -> List[str]:
    """What breaks the limits in a :func:`compile_cases` report."""
    found = [f'compile failure: {failure}' for failure in report['failures']]
    found += [
        f'{kernel["name"]} [{kernel["variant"]}, {kernel["warps"]} warps]: '
        f'{problem}' for kernel in report['kernels']
        for problem in KernelResources(**kernel).problems()
    ]
    found += [f'{name}: never compiled' for name in report['never_compiled']]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sm', type=int, default=90)
    parser.add_argument(
        '--cases', choices=sorted(CASE_SETS), default='representative')
    parser.add_argument(
        '--layers', nargs='+', help='only these layers (default: all)')
    parser.add_argument('--json', help='write the report here')
    args = parser.parse_args()
    cases = [
        case for case in CASE_SETS[args.cases]()
        if args.layers is None or case.layer in args.layers
    ]
    report = compile_cases(args.sm, cases)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    summary: Dict[str, List[int]] = {}
    for kernel in report['kernels']:
        row = summary.setdefault(kernel['name'], [0, 0, 0])
        row[0] += 1
        row[1] = max(row[1], kernel['registers'])
        row[2] = max(row[2], kernel['local'] + kernel['stack'])
    for name, (variants, registers, spilled) in sorted(summary.items()):
        print(f'{name}: {variants} variants, at most {registers} registers, '
              f'{spilled} B spilled')
    found = problems(report)
    for problem in found:
        print('PROBLEM', problem)
    print(f'sm_{args.sm}: {report["cases"]} cases, '
          f'{len(report["kernels"])} kernels, {len(found)} problems')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
