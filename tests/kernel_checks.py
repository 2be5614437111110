"""What the kernel tests share: building a layer, running it with a kernel
backend or by its plain formula, comparing gradients, and checks that run on
any device (CPU tensors need Triton's interpreter, see tests/conftest.py)."""
from typing import Optional, Sequence

import torch
from mmcv.cnn import build_activation_layer
from torch import nn

from mmdynact import ops


def make(name: str, channels: int, **kwargs) -> nn.Module:
    return build_activation_layer(dict(type=name, channels=channels, **kwargs))


def forward_backward(layer: nn.Module,
                     x: torch.Tensor,
                     grad: torch.Tensor,
                     backend: Optional[str],
                     autocast: Optional[torch.dtype] = None):
    """Output and gradients (input, parameters) of ``layer`` with a kernel
    backend, or of its plain formula (``backend=None``); the forward under
    ``torch.autocast(dtype=autocast)`` if given, the backward outside it
    (as a training loop runs them)."""
    x = x.detach().requires_grad_()
    with ops.use_backend(backend or 'eager'):
        with torch.autocast(
                x.device.type,
                dtype=autocast or torch.bfloat16,
                enabled=autocast is not None):
            y = layer(x) if backend else layer.formula(x)
        grads = torch.autograd.grad(
            y, [x, *layer.parameters()], grad, allow_unused=True)
    return y, grads


def assert_grads_close(grads: Sequence[Optional[torch.Tensor]],
                       expected: Sequence[Optional[torch.Tensor]],
                       **tolerance) -> None:
    for index, (grad, grad_ref) in enumerate(zip(grads, expected)):
        if grad_ref is None:
            assert grad is None or not grad.any(), index
        else:
            torch.testing.assert_close(
                grad.double(),
                grad_ref.double(),
                msg=f'gradient {index}',
                **tolerance)


def check_backward_twice(name: str, device: torch.device, shape: tuple,
                         dtype: torch.dtype, backend: str) -> None:
    """``backward(retain_graph=True)`` then ``backward()`` accumulate twice
    the gradients of one backward, for the input and every parameter."""
    layer = make(name, shape[1]).to(device, dtype)
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    with ops.use_backend(backend):
        loss = layer(x).square().sum()
        loss.backward(retain_graph=True)
        once = [x.grad.clone()] + [p.grad.clone() for p in layer.parameters()]
        loss.backward()
    twice = [x.grad] + [p.grad for p in layer.parameters()]
    for index, (first, second) in enumerate(zip(once, twice)):
        torch.testing.assert_close(
            second, 2 * first, msg=f'{name}: gradient {index}')
