"""tools/analysis_tools/plot_activations.py and the probes behind it."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image
from torch import nn

from mmdynact.analysis.learned_activations import (plot_activations, probing,
                                                   write_report)
from mmdynact.analysis.learned_activations.acon_probe import acon_curve
from mmdynact.analysis.learned_activations.model_inputs import (
    dataset_batches, load_model, run)
from mmdynact.analysis.learned_activations.report import report_sections
from mmdynact.cli import build_runner
from mmdynact.models.activations import (ACTIVATIONS, AconC, DyReLUB, DyReLUC,
                                         FReLU, MetaAconC)
from mmdynact.tiny_datasets import write_imagenet

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / 'configs/_tiny_/mobilenet-v2_dyrelu-b_tiny-imagenet.py'


def _assert_png(path, min_size=(300, 200)):
    with Image.open(path) as image:
        assert image.format == 'PNG'
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        # not blank: the figure has drawn content
        assert len(set(image.convert('L').getdata())) > 10


#: a small DY-ReLU-B ResNet on the tiny ImageNet data: 8 activation layers
SMALL_MODEL = {
    'model.backbone':
    dict(
        _delete_=True,
        type='ActResNet',
        depth=18,
        stem_channels=8,
        base_channels=8,
        act_cfg=dict(type='DyReLUB'),
        act_positions=('conv1', 'add'),
        act_stages=(0, 1)),
    'model.head.in_channels':
    64,
}


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A tiny config's model, trained for one iteration with the Runner."""
    root = tmp_path_factory.mktemp('plot')
    write_imagenet(root / 'imagenet', seed=0)
    data = dict(data_root=str(root / 'imagenet'), indices=2)
    loader = dict(batch_size=2, num_workers=0, dataset=data)
    cfg = Config.fromfile(str(TINY_CONFIG))
    cfg.merge_from_dict({
        **SMALL_MODEL,
        'work_dir': str(root / 'work'),
        'train_dataloader': loader,
        'val_dataloader': loader,
        'test_dataloader': loader,
        'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'log_level': 'WARNING',
    })
    build_runner(cfg).train()
    config = root / 'work' / TINY_CONFIG.name
    return config, root / 'work' / 'epoch_1.pth'


def test_command_line_on_trained_checkpoint(trained, tmp_path, monkeypatch):
    config, checkpoint = trained
    out = tmp_path / 'plots'
    monkeypatch.setattr(sys, 'argv', [
        'plot_activations.py',
        str(config),
        str(checkpoint), '--num-images', '2', '--out-dir',
        str(out)
    ])
    runpy.run_path(
        str(REPO / 'tools/analysis_tools/plot_activations.py'),
        run_name='__main__')

    for name in ('dyrelu_curves.png', 'dyrelu_spread.png'):
        _assert_png(out / name)
    summary = json.loads((out / 'summary.json').read_text())
    text = (out / 'summary.txt').read_text()

    # the same numbers, computed directly from the trained model
    cfg = Config.fromfile(str(config))
    model = load_model(cfg, str(checkpoint))
    slopes = {}

    def capture(name):

        def hook(module, args, output):
            slopes.setdefault(name, []).append(module.coefficients(args[0])[0])

        return hook

    layers = {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, DyReLUB)
    }
    for name, module in layers.items():
        module.register_forward_hook(capture(name))
    assert run(model, dataset_batches(cfg, 2)) == 2

    assert len(layers) == 8
    assert [layer['name'] for layer in summary['layers']] == list(layers)
    assert text.count('DyReLUB') == len(layers)
    for layer in summary['layers']:
        a = torch.cat(slopes[layer['name']]).double()
        assert layer['inputs'] == 2
        assert layer['a1']['mean'] == pytest.approx(float(a[..., 0].mean()))
        assert layer['a2']['max'] == pytest.approx(float(a[..., 1].max()))


def test_missing_checkpoint_is_named(trained, tmp_path):
    config, _ = trained
    with pytest.raises(FileNotFoundError, match='no.pth'):
        plot_activations(str(config), str(tmp_path / 'no.pth'), str(tmp_path))


#: arguments beyond the channels, where a layer's defaults leave out a part
#: its probe reads
LAYER_OPTIONS = dict(MetaAconC=dict(with_norm=True))


class AllKinds(nn.Module):
    """One layer of every registered activation, each after a conv."""

    def __init__(self):
        super().__init__()
        acts = [
            cls(8, **LAYER_OPTIONS.get(name, {}))
            for name, cls in ACTIVATIONS.items()
        ]
        self.layers = nn.Sequential(*[
            nn.Sequential(nn.Conv2d(3 if i == 0 else 8, 8, 3, padding=1), act)
            for i, act in enumerate(acts)
        ])

    def forward(self, x):
        return self.layers(x)

    def name_of(self, cls) -> str:
        """The module name of the ``cls`` layer."""
        return f'layers.{list(ACTIVATIONS.values()).index(cls)}.1'

    def layer(self, cls) -> nn.Module:
        return self.get_submodule(self.name_of(cls))


def test_probes_match_direct_computation(tmp_path, reference_only_layer):
    model = AllKinds()
    for module in model.modules():  # non-trivial running statistics
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    model.eval()
    inputs = [torch.randn(2, 3, 12, 10) for _ in range(2)]
    seen = {}

    def keep(name):

        def hook(module, args, output):
            seen.setdefault(name, []).append((args[0], output))

        return hook

    for name, module in model.named_modules():
        if hasattr(module, 'channels'):
            module.register_forward_hook(keep(name))
    with torch.no_grad(), probing(model) as probes:
        for x in inputs:
            model(x)
        by_name = {probe.name: probe for probe in probes}
        assert [probe.type_name for probe in probes] == list(ACTIVATIONS)
        # every section of the report has a layer here
        assert {probe.section for probe in probes} == set(report_sections())

        # FReLU: the funnel wins exactly where the output exceeds the input
        frelu = by_name[model.name_of(FReLU)]
        pairs = seen[model.name_of(FReLU)]
        wins = sum(float((y > x).sum()) for x, y in pairs)
        total = sum(x.numel() for x, _ in pairs)
        assert 0 < frelu.win_fraction < 1
        assert frelu.win_fraction == pytest.approx(wins / total)

        # DY-ReLU-B: the recorded pieces give the layer's output
        dyrelu = by_name[model.name_of(DyReLUB)]
        a, b = torch.from_numpy(dyrelu.slopes), torch.from_numpy(
            dyrelu.intercepts)
        x = torch.cat([x for x, _ in seen[model.name_of(DyReLUB)]]).double()
        y = torch.cat([y for _, y in seen[model.name_of(DyReLUB)]]).double()
        pieces = a[:, :, None, None] * x[..., None] + b[:, :, None, None]
        torch.testing.assert_close(
            pieces.max(-1).values, y, rtol=1e-5, atol=1e-5)
        assert dyrelu.slopes.shape == (4, 8, 2)

        # Meta-ACON: beta = sigmoid(G(pooled x)), written out
        meta = model.layer(MetaAconC)
        pooled = torch.cat([x
                            for x, _ in seen[model.name_of(MetaAconC)]]).mean(
                                (2, 3), keepdim=True)
        beta = torch.sigmoid(
            meta.norm2(meta.fc2(meta.norm1(meta.fc1(pooled))))).flatten(1)
        meta_probe = by_name[model.name_of(MetaAconC)]
        np.testing.assert_allclose(
            meta_probe.beta, beta.double().numpy(), rtol=1e-6)
        assert meta_probe.summary()['beta']['mean'] == pytest.approx(
            float(beta.mean()))

        # ACON-C: the drawn curve is the layer itself
        acon, acon_probe = model.layer(AconC), by_name[model.name_of(AconC)]
        xs = np.linspace(-3, 3, 7)
        grid = torch.tensor(
            xs, dtype=torch.float).view(1, 1, 7, 1).expand(1, 8, 7, 1)
        np.testing.assert_allclose(
            acon_curve(xs, acon_probe._p1[5], acon_probe._p2[5],
                       acon_probe.beta[0, 5]),
            acon(grid)[0, 5, :, 0].double().numpy(),
            rtol=1e-5,
            atol=1e-6)

        # DY-ReLU-C: mean spatial attention
        dyrelu_c = model.layer(DyReLUC)
        pi = torch.cat([
            dyrelu_c.spatial_attention(x)
            for x, _ in seen[model.name_of(DyReLUC)]
        ])
        summary = by_name[model.name_of(DyReLUC)].summary()
        assert summary['pi_mean'] == pytest.approx(float(pi.mean()))
        assert 0 <= summary['pi_capped'] <= 1

        # any layer (here the reference-only one): its sampled outputs
        curve = by_name[model.name_of(reference_only_layer)]
        assert curve.summary()['departure_from_relu']['max'] <= 0  # PReLU

    written = write_report(probes, str(tmp_path), 'all kinds')
    names = {path.name for path in written}
    for section in report_sections():
        assert {f'{section}_curves.png', f'{section}_spread.png'} <= names
        _assert_png(tmp_path / f'{section}_curves.png', (250, 200))
        _assert_png(tmp_path / f'{section}_spread.png')
    text = (tmp_path / 'summary.txt').read_text()
    assert f'funnel wins at {frelu.win_fraction:.1%}' in text
    assert len(text.splitlines()) == 3 + len(probes)


def test_model_without_our_layers_is_refused():
    with pytest.raises(ValueError, match='act_cfg'):
        with probing(nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU())):
            pass


def test_layers_are_selected_by_name():
    model = AllKinds()
    with probing(model, layers=r'layers\.[14]\.') as probes:
        assert [probe.type_name for probe in probes
                ] == [list(ACTIVATIONS)[1],
                      list(ACTIVATIONS)[4]]
    assert not model.layers[1][1]._forward_hooks  # removed on exit
    with pytest.raises(ValueError, match="layers='nothing' matches none"):
        with probing(model, layers='nothing'):
            pass
