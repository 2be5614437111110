"""The private torch behaviours the compiled form relies on, in one place.

* **A dynamo cache per code object.** ``torch.compile`` keeps its guards
  and compiled graphs per Python code object, so a copy of a function with
  a code object of its own compiles and caches independently. Each variant
  of a torch kernel (dtypes, layout, flags) gets such a copy, and variants
  never evict one another nor reach the recompile limit.
* **Duck shaping off** (``torch.fx.experimental._config.use_duck_shape``):
  without it, sizes that happen to be equal in the first call (batch and
  ``K``, height and width) would become one symbol, and other sizes later
  would recompile.
* **Inductor without dynamo** (``torch._inductor.standalone_compile``, torch
  2.8 and later): a graph traced with symbolic sizes compiles to a callable
  that runs the fused kernel for any sizes, without dynamo's cache lookup
  and guards (a few microseconds against about 25 per call on a CPU).
  Nothing checks what the trace assumed about the sizes, so
  :func:`standalone_compiled` accepts only traces that assume no more than
  equal sizes, which the compiled call asserts of its inputs.

Verified on torch 2.4 through 2.13 (:data:`VERIFIED_TORCH`; the third from
2.8); ``tests/test_torch_internals.py`` fails loudly if any changes.
"""
import types
from typing import Callable, Dict, Optional

import sympy
import torch
import torch.fx.experimental._config as fx_config
from torch.fx.experimental.proxy_tensor import make_fx

#: the torch versions (first, last) these behaviours were verified on
VERIFIED_TORCH = ('2.4', '2.13')


def compiled_copy(fn: Callable, name: str) -> Callable:
    """``torch.compile(dynamic=True)`` of a copy of ``fn`` with its own code
    object (named ``name``), hence its own dynamo cache, run without duck
    shaping."""
    code = fn.__code__.replace(co_name=name)
    copy = types.FunctionType(code, fn.__globals__, name, fn.__defaults__,
                              fn.__closure__)
    compiled = torch.compile(copy, dynamic=True)

    def run(*args):
        with fx_config.patch(use_duck_shape=False):
            return compiled(*args)

    return run


def standalone_compiled(fn: Callable,
                        *args,
                        decompositions: Optional[Dict] = None) -> Callable:
    """Inductor's compile of ``fn`` traced on ``args`` with a symbol per
    size (no duck shaping, sizes 0 and 1 kept), called without dynamo. The
    result serves inputs of any sizes, but of the dtypes, devices, size-1
    dimensions and layouts of ``args``: the caller keeps one per variant.
    ``decompositions`` (``aten`` op overload -> function) rewrite ops while
    tracing, before inductor sees them.

    Raises:
        RuntimeError: If tracing ``fn`` assumed anything of the sizes other
            than that some are equal (a branch on a size, say), which the
            compiled call would not check.
    """
    with fx_config.patch(use_duck_shape=False):
        graph = make_fx(
            fn, decomposition_table=decompositions,
            tracing_mode='symbolic')(*args)
        example = next(node.meta['val'] for node in graph.graph.nodes
                       if node.op == 'placeholder'
                       and isinstance(node.meta.get('val'), torch.Tensor))
        assumed = [
            guard.expr for guard in example.fake_mode.shape_env.guards
            if not _equates_sizes(guard.expr)
        ]
        if assumed:
            raise RuntimeError(
                f'{fn.__name__}: its trace assumes {assumed} of the sizes, '
                f'which a standalone compile does not check')
        return torch._inductor.standalone_compile(graph, list(args))


def _equates_sizes(expr) -> bool:
    return isinstance(expr, sympy.Eq) and all(
        isinstance(side, sympy.Symbol) for side in expr.args)
