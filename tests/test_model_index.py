"""The model index (model-index.yml -> configs/*/metafile.yml, read with the
``model-index`` package as mim does) lists every paper config once, with
the parameters and FLOPs that tools/analysis_tools/get_flops.py measures,
and the READMEs' complexity tables say the same.

Parameters are checked for every config; FLOPs for a few that together
run every counted activation kernel (FReLU, ACON, DY-ReLU-B and -C) in
ResNet, ShuffleNetV2 and MobileNetV2: tracing at the full input sizes takes
seconds per model on CPU (tens of seconds for detection and segmentation).
"""
import re

import pytest
from modelindex import load

from mmdynact.analysis.complexity import format_count
from tests.paper_configs import (CONFIGS, FAMILIES, REPO, config_id, flops,
                                 parameters, relative)

INDEX = load(str(REPO / 'model-index.yml'))
MODELS = {model.config: model for model in INDEX.models}
FLOPS_CHECKED = [
    'configs/frelu/resnet50_relu-dropout_8xb32_in1k.py',
    'configs/frelu/shufflenet-v2-0.5x_frelu_16xb64_in1k.py',
    'configs/acon/resnet50_meta-acon_8xb32_in1k.py',
    'configs/dyrelu/td-hm_mobilenetv2-dyrelu_8xb64-210e_coco-256x192.py',
]


def test_root_index_imports_one_metafile_per_paper():
    root = (REPO / 'model-index.yml').read_text()
    imports = re.findall(r'^  - (\S+)$', root, flags=re.M)
    assert sorted(imports) == sorted(f'configs/{family}/metafile.yml'
                                     for family in FAMILIES)
    assert [c.name for c in INDEX.collections] == ['FReLU', 'ACON', 'DY-ReLU']


def test_every_paper_config_is_listed_once():
    names = [model.name for model in INDEX.models]
    assert len(names) == len(set(names))
    assert sorted(MODELS) == sorted(relative(p) for p in CONFIGS)
    for config, model in MODELS.items():
        assert model.name == config.rsplit('/', 1)[1][:-len('.py')]
        assert (REPO / config).is_file()


@pytest.mark.parametrize('config', sorted(MODELS))
def test_entry_has_paper_collection_and_no_results(config):
    model = MODELS[config]
    family = config.split('/')[1]
    full = model.full_model  # with its collection's fields
    assert full.paper['URL'].startswith('https://arxiv.org/abs/')
    assert full.paper['Title']
    assert full.readme == f'configs/{family}/README.md'
    assert (REPO / full.readme).is_file()
    metadata = model.metadata.data
    assert metadata['Training Data'] in ('ImageNet-1k', 'COCO', 'Cityscapes')
    assert isinstance(metadata['FLOPs'], int)
    assert isinstance(metadata['Parameters'], int)
    # not yet trained
    assert model.results is None and model.weights is None


@pytest.mark.parametrize('path', CONFIGS, ids=config_id)
def test_listed_parameters_are_measured(path):
    config = relative(path)
    listed = MODELS[config].metadata.parameters
    assert listed == parameters(config), (
        f'{config}: metafile says Parameters: {listed}, '
        f'get_flops.py counts {parameters(config)}')


@pytest.mark.parametrize('config', FLOPS_CHECKED)
def test_listed_flops_are_measured(config):
    listed = MODELS[config].metadata.flops
    assert listed == flops(config), (
        f'{config}: metafile says FLOPs: {listed}, get_flops.py counts '
        f'{flops(config)}')


# | `name` | HxW | 25.56M → 25.7M (+0.58%) | 3.879G → 3.965G (+2.22%) |
ROW = re.compile(r'^\| `(?P<name>[^`]+)` \| \d+x\d+ \| \S+ → (?P<params>\S+) '
                 r'\([^)]*\) \| \S+ → (?P<flops>\S+) \([^)]*\) \|$')


@pytest.mark.parametrize('family', FAMILIES)
def test_readme_complexity_tables_match_the_index(family):
    rows = {
        match['name']: match
        for match in map(ROW.match, (REPO / 'configs' / family /
                                     'README.md').read_text().splitlines())
        if match
    }
    listed = {
        model.name: model.metadata
        for config, model in MODELS.items()
        if config.startswith(f'configs/{family}/')
    }
    assert sorted(rows) == sorted(listed)
    for name, metadata in listed.items():
        assert rows[name]['params'] == format_count(metadata.parameters), name
        assert rows[name]['flops'] == format_count(metadata.flops), name
