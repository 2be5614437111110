"""Look inside trained models: what DY-ReLU, ACON and FReLU layers (and any
other registered activation, through the generic curve probe) learned.

:func:`plot_activations` (``tools/analysis_tools/plot_activations.py``) runs
a model on a few images with a probe hooked onto every mmdynact activation
layer (:mod:`.recorder`) and writes, per layer family, pages of input ->
output curves, an overview of the learned statistics per layer, and a text
and JSON summary (:mod:`.report`).
"""
from .analyze import plot_activations
from .recorder import PROBES, probing
from .report import write_report

__all__ = ['plot_activations', 'PROBES', 'probing', 'write_report']
