"""Register models that subclass a toolbox without importing the toolbox.

``import mmdynact`` must not import mmdet, mmseg, mmpretrain or mmpose (it is
a plugin of all four, and users install only some). Models that subclass a
toolbox class are therefore registered in mmengine's root ``MODELS`` as
*builder functions*: building ``dict(type='ActResNet', ...)`` imports the
implementing module on first use. The root registry is the parent of every
toolbox's registry, so the name resolves under any ``default_scope``.
"""
import importlib
from typing import Callable

from mmengine.registry import MODELS
from torch import nn

from mmdynact.environment import explain_incompatibility


def register_lazy(name: str, module: str, requires: str,
                  extra: str) -> Callable[..., nn.Module]:
    """Register ``name`` as a builder of ``module.<name>`` in root MODELS.

    Args:
        name: Class name in ``module``; also the registered name.
        module: Dotted path of the implementing module.
        requires: Top-level package the module imports (e.g. ``mmpretrain``).
        extra: The mmdynact extra that installs it, named in the error.

    Returns:
        The registered builder; it takes the class's arguments and raises a
        ``ModuleNotFoundError`` naming ``requires`` if it is not installed,
        or an ImportError naming the cause and the fix if a known
        incompatibility breaks its import (e.g. transformers 5 with
        mmpretrain 1.2).
    """

    def build(*args, **kwargs) -> nn.Module:
        try:
            with explain_incompatibility(f'building {name} (it imports '
                                         f'{requires})'):
                implementation = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if (exc.name or '').split('.')[0] != requires:
                raise
            raise ModuleNotFoundError(
                f'{name} is built on {requires}, which is not installed: '
                f"pip install 'mmdynact[{extra}]' (or pip install "
                f'{requires})') from exc
        return getattr(implementation, name)(*args, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f'Build :class:`{module}.{name}` (imports {requires} on '
                     'first use).')
    MODELS.register_module(name=name, module=build)
    return build
