"""Attach a probe to every mmdynact activation layer of a model."""
import re
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Type

from torch import nn

from mmdynact.models.activations import ACTIVATIONS, ChannelActivation
from .acon_probe import AconProbe
from .curve_probe import CurveProbe
from .dyrelu_probe import DyReLUProbe
from .frelu_probe import FReLUProbe
from .probe import LayerProbe

#: probe kind (an activation's ``spec.probe``, one of
#: ``mmdynact.models.activations.PROBE_KINDS``) -> probe class
PROBES: Dict[str, Type[LayerProbe]] = {
    probe.kind: probe
    for probe in (DyReLUProbe, AconProbe, FReLUProbe, CurveProbe)
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
        if not isinstance(module, ChannelActivation):
            continue
        if layers is None or re.search(layers, name):
            probes.append(PROBES[module.spec.probe](name, module))
        found.append(name)
    if not found:
        raise ValueError('the model has no mmdynact activation layer (' +
                         ', '.join(ACTIVATIONS) +
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
