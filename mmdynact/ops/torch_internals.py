"""The two private torch behaviours the compiled form relies on, in one place.

* **A dynamo cache per code object.** ``torch.compile`` keeps its guards
  and compiled graphs per Python code object, so a copy of a function with
  a code object of its own compiles and caches independently. Each variant
  of a torch kernel (dtypes, layout, flags) gets such a copy, and variants
  never evict one another nor reach the recompile limit.
* **Duck shaping off** (``torch.fx.experimental._config.use_duck_shape``):
  without it, sizes that happen to be equal in the first call (batch and
  ``K``, height and width) would become one symbol, and other sizes later
  would recompile.

Verified on torch 2.4 through 2.13 (:data:`VERIFIED_TORCH`);
``tests/test_torch_internals.py`` fails loudly if either changes.
"""
import types
from typing import Callable

import torch
import torch.fx.experimental._config as fx_config

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
