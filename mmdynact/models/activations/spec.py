"""What the tools need to know about an activation layer: its declaration.

Two tiers:

* **reference only**: ``ActivationSpec()``. The layer defines its plain
  formula (``formula(x)``) and nothing else; its forward runs the formula
  (:class:`~.base.ChannelActivation`), so it works in configs, models, FLOP
  counting, probes and the benchmark, with plain autograd's memory and
  speed.
* **fused**: ``ActivationSpec(kernels=(...), cpu_time_target=...,
  gpu_time_target=...)``. The layer's own forward runs memory-lean autograd
  functions (:mod:`mmdynact.ops`); each counts its FLOPs, and the benchmark
  and the kernel tests hold it to its targets.
"""
from typing import NamedTuple, Optional, Tuple

#: the probe kinds of :mod:`mmdynact.analysis.learned_activations`, in the
#: order its report shows them; ``'curve'`` (sampled input -> output points)
#: fits any layer
PROBE_KINDS = ('dyrelu', 'acon', 'frelu', 'curve')


class ActivationSpec(NamedTuple):
    """What the tools need to know about an activation layer.

    Attributes:
        kernels: The memory-lean autograd functions its forward runs
            (:mod:`mmdynact.ops`); each counts its own FLOPs
            (``count_flops``). Empty (the default) for a reference-only
            layer, whose forward is its ``formula(x)``.
        probe: Which learned-activation probe looks inside it, one of
            :data:`PROBE_KINDS` (default ``'curve'``).
        cpu_time_target: Benchmark target on CPU: forward + backward time
            of the compiled form over that of the plain formula. Needed
            with kernels; none without.
        gpu_time_target: Benchmark target on a GPU: forward + backward time
            of the Triton form over that of ``nn.ReLU`` (bf16). Needed with
            kernels; none without.
    """
    kernels: Tuple[type, ...] = ()
    probe: str = 'curve'
    cpu_time_target: Optional[float] = None
    gpu_time_target: Optional[float] = None

    @property
    def reference_only(self) -> bool:
        """Whether the layer runs its plain formula (declares no kernels)."""
        return not self.kernels
