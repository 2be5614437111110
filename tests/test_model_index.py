"""The model index (model-index.yml -> configs/*/metafile.yml, read with the
``model-index`` package as mim does) lists every paper config once, with
the parameters and FLOPs that tools/analysis_tools/get_flops.py measures,
and the READMEs' complexity tables say the same.

Parameters are checked for every config; FLOPs for a few that together run
every activation and every backbone with an activation
(:func:`~tests.paper_configs.covering_configs`): tracing at the full input
sizes takes seconds per model on CPU (tens of seconds for detection and
segmentation).
"""
import re
from collections import Counter
from pathlib import Path

import pytest

from mmdynact.analysis.complexity import format_count
from tests.paper_configs import (CONFIGS, FAMILIES, INDEX, METAFILES, REPO,
                                 config_id, covering_configs, flops,
                                 parameters, relative)

MODELS = {model.config: model for model in INDEX.models}


def test_root_index_imports_every_metafile_once():
    assert sorted(METAFILES) == sorted(
        (REPO / 'configs').glob('*/metafile.yml'))
    assert len(set(FAMILIES)) == len(FAMILIES)
    # one collection (paper) per metafile, with its own models
    folders = Counter(
        Path(collection.filepath).parent.name
        for collection in INDEX.collections)
    assert folders == Counter(FAMILIES)
    collections = {
        collection.name: Path(collection.filepath).parent.name
        for collection in INDEX.collections
    }
    assert len(collections) == len(FAMILIES)  # unique names
    for model in INDEX.models:
        assert collections[model.in_collection] == \
            Path(model.filepath).parent.name


def test_every_paper_config_is_listed_once():
    names = [model.name for model in INDEX.models]
    assert len(names) == len(set(names))
    assert sorted(MODELS) == sorted(relative(p) for p in CONFIGS)
    for config, model in MODELS.items():
        assert model.name == config.rsplit('/', 1)[1][:-len('.py')]
        assert (REPO / config).is_file()
        assert Path(model.filepath).parent == (REPO / config).parent


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


def test_listed_flops_are_measured():
    checked = covering_configs({
        config: model.metadata.flops
        for config, model in MODELS.items()
    })
    for config in checked:
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
