"""Attach a probe to every mmdynact activation layer of a model."""
import re
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Type

from torch import nn

from mmdynact.models.activations import (AconA, AconB, AconC, DyReLUA,
                                         DyReLUB, DyReLUC, FReLU, MetaAconC)
from .acon_probe import AconProbe
from .dyrelu_probe import DyReLUProbe
from .frelu_probe import FReLUProbe
from .probe import LayerProbe

#: layer class -> probe class
PROBES: Dict[Type[nn.Module], Type[LayerProbe]] = {
    DyReLUA: DyReLUProbe,
    DyReLUB: DyReLUProbe,
    DyReLUC: DyReLUProbe,
    AconA: AconProbe,
    AconB: AconProbe,
    AconC: AconProbe,
    MetaAconC: AconProbe,
    FReLU: FReLUProbe,
}


@contextmanager
def probing(model: nn.Module,
            layers: Optional[str] = None) -> Iterator[List[LayerProbe]]:
    """Hook a probe onto each of our activation layers, in model order.

    Layers are found by class (subclasses included); the hooks are removed
    on exit.

    Args:
        model: The model.
        layers: Regular expression; only layers whose name it matches
            (``re.search``) are probed. By default all.
    """
    probes, found = [], []
    for name, module in model.named_modules():
        probe_class = next((PROBES[cls] for cls in type(module).__mro__
                            if cls in PROBES), None)
        if probe_class is None:
            continue
        if layers is None or re.search(layers, name):
            probes.append(probe_class(name, module))
        found.append(name)
    if not found:
        raise ValueError(
            'the model has no mmdynact activation layer (' +
            ', '.join(cls.__name__ for cls in PROBES) +
            '); is act_cfg set to one of them in the config?')
    if not probes:
        raise ValueError(f'layers={layers!r} matches none of the '
                         f'activation layers: {", ".join(found)}')
    handles = [probe.module.register_forward_hook(probe) for probe in probes]
    try:
        yield probes
    finally:
        for handle in handles:
            handle.remove()
