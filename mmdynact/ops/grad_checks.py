"""Where the memory-lean kernels meet autograd: clear errors where they
cannot follow it, and whether a call needs an autograd node at all."""
import torch


def check_no_double_backward(layer: str) -> None:
    """Raise if a backward runs with ``create_graph=True``.

    The kernels recompute what they need from the input in backward and are
    differentiable once; a second derivative (gradient penalties, some
    meta-learning) needs the plain formulas.
    """
    if torch.is_grad_enabled():
        raise RuntimeError(
            f'{layer}: mmdynact\'s kernels are differentiable once, but this '
            f'backward runs with create_graph=True (double backward). For '
            f'higher-order gradients compute the layer with its plain '
            f'formula, layer.formula(x), which autograd differentiates any '
            f'number of times.')


def records_graph(*tensors) -> bool:
    """Whether autograd records a node for an op on ``tensors`` (None
    allowed): the inference path (``no_grad``, ``inference_mode``, frozen
    inputs) runs the passes without an autograd function and saves
    nothing."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                           for t in tensors)
