"""Clear errors where the memory-lean kernels cannot follow autograd."""
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
