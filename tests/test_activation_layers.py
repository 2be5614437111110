"""The activation layers against their plain formulas (float64)."""
import copy

import pytest
import torch
from mmcv.cnn import build_activation_layer

from mmdynact import ops
from mmdynact.models.activations import (ACTIVATIONS, AconC, DyReLUA, DyReLUB,
                                         DyReLUC, FReLU, MetaAconC,
                                         fused_activations)
from mmdynact.testing import saved_tensor_bytes

ALL = list(ACTIVATIONS.values())
NAMES = list(ACTIVATIONS)
#: the layers with kernels, whose memory targets apply
FUSED = list(fused_activations().values())
C = 6


def make(cls, channels=C, **kwargs):
    return build_activation_layer(
        dict(type=cls.__name__, channels=channels, **kwargs)).double()


def random_input(shape=(3, C, 5, 4), channels_last=False):
    x = torch.randn(shape, dtype=torch.float64)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    return x.requires_grad_()


def outputs_and_grads(layer, x, forward):
    y = forward(layer, x)
    grad_y = torch.randn(
        y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(1))
    tensors = [x] + list(layer.parameters())
    grads = torch.autograd.grad(y, tensors, grad_y, allow_unused=True)
    return y, grads


@pytest.mark.parametrize('cls', ALL, ids=NAMES)
@pytest.mark.parametrize('training', [True, False], ids=['train', 'eval'])
@pytest.mark.parametrize(
    'channels_last', [False, True], ids=['contiguous', 'channels_last'])
def test_matches_plain_formula(cls, training, channels_last):
    ours = make(cls).train(training)
    reference = copy.deepcopy(ours)
    x = random_input(channels_last=channels_last)
    y, grads = outputs_and_grads(ours, x, lambda m, t: m(t))
    y_ref, grads_ref = outputs_and_grads(reference, x,
                                         lambda m, t: m.formula(t))
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-12)
    for name, g, g_ref in zip(['x'] + [n for n, _ in ours.named_parameters()],
                              grads, grads_ref):
        if g_ref is None:
            assert g is None or not g.any(), name
        else:
            torch.testing.assert_close(
                g, g_ref, rtol=1e-9, atol=1e-12, msg=name)
    # batch norm statistics (FReLU's funnel, DyReLUC's attention) move alike
    for (name, b), (_, b_ref) in zip(ours.named_buffers(),
                                     reference.named_buffers()):
        torch.testing.assert_close(b, b_ref, msg=name)
    if channels_last:
        assert y.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize('cls', [DyReLUA, DyReLUB], ids=['A', 'B'])
def test_dyrelu_ab_accept_1d_input(cls):
    layer = make(cls)
    x = random_input((2, C, 7))
    torch.testing.assert_close(layer(x), layer.formula(x))
    assert torch.autograd.gradcheck(layer, (x, ))


@pytest.mark.parametrize('cls', ALL, ids=NAMES)
def test_gradcheck(cls):
    layer = make(cls)
    x = random_input((2, C, 3, 3))
    assert torch.autograd.gradcheck(layer, (x, ))


@pytest.mark.parametrize('cls', ALL, ids=NAMES)
def test_batch_of_one_trains(cls):
    layer = make(cls).train()
    x = random_input((1, C, 4, 4))
    layer(x).square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in layer.parameters())


def test_meta_acon_batch_norm_on_batch_of_one_is_explained():
    layer = make(MetaAconC, with_norm=True).train()
    with pytest.raises(ValueError, match='MetaAconC.*batch of one'):
        layer(random_input((1, C, 4, 4)))
    layer(random_input((2, C, 4, 4)))  # a real batch is fine


@pytest.mark.parametrize('backend', ['eager', 'triton'])
def test_meta_acon_trains_on_a_batch_of_one_under_norm_eval(backend):
    # norm_eval puts the switching network's norms in eval mode while the
    # layer trains (detection at one image per GPU): that must work
    layer = make(MetaAconC, with_norm=True).train()
    for norm in (layer.norm1, layer.norm2):
        norm.eval()
    x = random_input((1, C, 4, 4)).requires_grad_()
    with ops.use_backend(backend):
        y = layer(x)
        y.square().sum().backward()
    torch.testing.assert_close(y, layer.formula(x))
    assert torch.isfinite(x.grad).all()
    assert torch.isfinite(layer.fc1.weight.grad).all()


def test_dyrelu_starts_from_relu_statics():
    layer = make(DyReLUB)
    with torch.no_grad():
        layer.fc2.weight.zero_()
        layer.fc2.bias.zero_()
    x = random_input()
    torch.testing.assert_close(layer(x), torch.relu(x))


@pytest.mark.parametrize('cls', FUSED, ids=lambda cls: cls.__name__)
def test_saved_memory_is_lean(cls):
    # the benchmark's shape: DyReLUC's (N, 1, H, W) attention logits
    # cost 1/C each; FReLU recomputes its funnel
    layer = cls(64)
    x = torch.randn(16, 64, 56, 56, requires_grad=True)
    saved, _ = saved_tensor_bytes(layer, x)
    assert saved <= 1.05 * x.nbytes, saved / x.nbytes
    reference, _ = saved_tensor_bytes(layer.formula, x)
    assert saved < reference


@pytest.mark.parametrize('cls', ALL, ids=NAMES)
def test_bfloat16_autocast_is_finite(cls):
    layer = cls(C)
    x = torch.randn(2, C, 5, 5, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = layer(x.to(torch.bfloat16))
    assert y.dtype == torch.bfloat16
    y.float().square().sum().backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_coefficients_shapes_and_use():
    x = random_input()
    for cls, coef_channels in [(DyReLUA, 1), (DyReLUB, C), (DyReLUC, C)]:
        layer = make(cls, k=3, init_a=(1., 0., 0.5), init_b=(0., 0., 0.))
        a, b = layer.coefficients(x)
        assert a.shape == b.shape == (3, coef_channels, 3)
    layer = make(DyReLUB)
    a, b = layer.coefficients(x)
    expected = torch.maximum(x * a[..., 0, None, None] + b[..., 0, None, None],
                             x * a[..., 1, None, None] + b[..., 1, None, None])
    torch.testing.assert_close(layer(x), expected)
    # residuals lie in (-1, 1) around the static (1, 0) / (0, 0)
    assert ((a[..., 0] - 1).abs() < 1).all() and (a[..., 1].abs() < 1).all()
    assert (b.abs() < 0.5).all()


def test_dyrelu_c_spatial_attention_and_temperature():
    layer = make(DyReLUC, temperature=10.0).eval()
    x = random_input((2, C, 6, 6))
    pi = layer.spatial_attention(x)
    assert pi.shape == (2, 1, 6, 6)
    assert (pi > 0).all() and (pi <= 1).all()
    assert layer.temperature == 10.0
    flat = layer.spatial_attention(x)
    layer.temperature = 0.05
    sharp = layer.spatial_attention(x)
    assert sharp.std() > flat.std()
    assert layer.state_dict()['_temperature'] == 0.05
    with pytest.raises(ValueError, match='temperature must be > 0'):
        layer.temperature = 0
    a, b = layer.coefficients(x)
    expected = pi * torch.maximum(
        x * a[..., 0, None, None] + b[..., 0, None, None],
        x * a[..., 1, None, None] + b[..., 1, None, None])
    layer.temperature = 10.0
    torch.testing.assert_close(layer(x), expected)


def test_meta_acon_switching_factor():
    layer = make(MetaAconC)
    x = random_input()
    beta = layer.switching_factor(x)
    assert beta.shape == (3, C, 1, 1)
    assert ((beta > 0) & (beta < 1)).all()
    torch.testing.assert_close(
        layer(x),
        (layer.p1 - layer.p2) * x * torch.sigmoid(beta *
                                                  (layer.p1 - layer.p2) * x) +
        layer.p2 * x)
    # hidden width max(r, C // r)
    assert make(MetaAconC, channels=64, r=4).fc1.out_channels == 16
    assert make(MetaAconC, channels=64).fc1.out_channels == 16


def test_acon_c_parameters():
    layer = make(AconC)
    shapes = {n: tuple(p.shape) for n, p in layer.named_parameters()}
    assert shapes == dict(p1=(1, C, 1, 1), p2=(1, C, 1, 1), beta=(1, C, 1, 1))


def test_frelu_funnel_and_kernel_size():
    layer = make(FReLU, kernel_size=5).eval()
    x = random_input()
    t = layer.funnel(x)
    torch.testing.assert_close(layer(x), torch.maximum(x, t))
    assert layer.funnel_conv.kernel_size == (5, 5)
    assert layer.funnel_conv.groups == C
    for bad in (4, 0, -3, 3.0, (3, 3), '3'):
        with pytest.raises(
                ValueError,
                match='FReLU: kernel_size must be an odd positive'):
            make(FReLU, kernel_size=bad)


def test_frelu_with_group_norm_runs_unfused():
    layer = make(FReLU, norm_cfg=dict(type='GN', num_groups=2))
    x = random_input()
    torch.testing.assert_close(layer(x), layer.formula(x))


@pytest.mark.parametrize('cls', ALL, ids=NAMES)
def test_bad_input_names_the_layer(cls):
    layer = cls(C)
    with pytest.raises(ValueError, match=f'{cls.__name__}\\(channels={C}\\)'):
        layer(torch.randn(2, C + 1, 4, 4))
    with pytest.raises(ValueError, match=f'{cls.__name__}.*got shape'):
        layer(torch.randn(2, C))


def test_dyrelu_c_rejects_1d_input():
    with pytest.raises(
            ValueError,
            match=r'DyReLUC\(channels=6\) expects '
            r'input \(N, 6, H, W\)'):
        DyReLUC(C)(torch.randn(2, C, 7))


@pytest.mark.parametrize('cls', ALL, ids=NAMES)
def test_channels_are_required_and_checked(cls):
    with pytest.raises(TypeError, match=f"type='{cls.__name__}', channels="):
        build_activation_layer(dict(type=cls.__name__))
    with pytest.raises(ValueError, match='channels must be a positive int'):
        cls(0)


def test_bad_dyrelu_arguments():
    with pytest.raises(ValueError, match=r'init_a needs k=3 values'):
        DyReLUB(C, k=3, init_a=(1.0, 0.0))
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match='DyReLUB: k must be a positive'):
            DyReLUB(C, k=bad)
        with pytest.raises(
                ValueError, match='DyReLUB: reduction must be a positive'):
            DyReLUB(C, reduction=bad)
    for bad in (float('nan'), float('inf'), 'one'):
        with pytest.raises(
                ValueError, match='DyReLUB: lambda_a must be a finite'):
            DyReLUB(C, lambda_a=bad)


def test_dyrelu_default_statics_follow_k():
    layer = DyReLUB(C, k=3).double()
    assert layer.init_a.tolist() == [1.0, 0.0, 0.0]
    assert layer.init_b.tolist() == [0.0, 0.0, 0.0]
    x = random_input()
    torch.testing.assert_close(layer(x), layer.formula(x))


@pytest.mark.parametrize('cls', ALL, ids=NAMES)
def test_inplace_is_accepted_and_ignored(cls):
    layer = cls(C, inplace=True)
    x = torch.randn(2, C, 4, 4)
    before = x.clone()
    layer(x)
    assert torch.equal(x, before)


def test_bad_meta_acon_and_frelu_arguments():
    for bad in (0, -2, 1.5):
        with pytest.raises(
                ValueError, match='MetaAconC: r must be a positive int'):
            MetaAconC(C, r=bad)
    with pytest.raises(ValueError, match='FReLU: norm_cfg must be a dict'):
        FReLU(C, norm_cfg=None)
    with pytest.raises(ValueError, match='MetaAconC: with_norm=True needs'):
        MetaAconC(C, with_norm=True, norm_cfg=None)


@pytest.mark.parametrize('form', ['eager', 'compiled'])
def test_frelu_inference_follows_changed_statistics(form):
    # evaluation folds the batch norm into the conv once, and again after
    # any of its tensors changes in place (optimizer step, load_state_dict)
    layer = make(FReLU).eval()
    x = random_input()
    with ops.use_backend(form), torch.inference_mode():
        torch.testing.assert_close(layer(x), layer.formula(x))
        with torch.no_grad():
            layer.funnel_norm.running_var.mul_(3.0)
            layer.funnel_conv.weight.add_(0.5)
        torch.testing.assert_close(layer(x), layer.formula(x))
        layer.load_state_dict(make(FReLU).state_dict())
        torch.testing.assert_close(layer(x), layer.formula(x))


@pytest.mark.parametrize('form', ['eager', 'compiled'])
def test_frelu_built_under_inference_mode(form):
    # parameters made under inference_mode are inference tensors, without
    # a version counter: their fold cannot be kept, and is made each call
    x = random_input()
    with ops.use_backend(form), torch.inference_mode():
        layer = make(FReLU).eval()
        assert layer.funnel_conv.weight.is_inference()
        torch.testing.assert_close(layer(x), layer.formula(x))
        layer.funnel_norm.running_var.mul_(3.0)
        layer.funnel_conv.weight.add_(0.5)
        torch.testing.assert_close(layer(x), layer.formula(x))
