"""mmdynact.cli: toolbox choice, options, and clear errors."""
import importlib.util

import pytest
import torch
from mmengine.config import Config

from mmdynact.cli import TOOLBOXES, load_config, load_toolbox_config
from mmdynact.cli import test as test_tool
from mmdynact.cli import toolbox_of
from mmdynact.cli import train as train_tool
from tests.tiny_workspace import CLS_CONFIG, REPO, TINY_CONFIGS

DET_CONFIG = TINY_CONFIGS / 'retinanet_r18-dyrelu-b_fpn_tiny-coco.py'


def test_toolbox_follows_default_scope():
    for config, scope in ((DET_CONFIG, 'mmdet'), (CLS_CONFIG, 'mmpretrain')):
        assert toolbox_of(Config.fromfile(config)).scope == scope
    assert set(TOOLBOXES) == {'mmdet', 'mmseg', 'mmpretrain', 'mmpose'}


def test_unknown_scope_and_missing_toolbox_say_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="default_scope='mmocr'.*'mmdet'"):
        toolbox_of(Config(dict(default_scope='mmocr')))
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(ImportError, match='pip install --no-deps'):
        toolbox_of(Config(dict(default_scope='mmpose')))


def test_common_options_set_work_dir_launcher_and_overrides():
    args = train_tool.parse_args([
        str(CLS_CONFIG), '--launcher', 'pytorch', '--cfg-options',
        'train_cfg.max_epochs=3'
    ])
    cfg, toolbox = load_config(args)
    assert toolbox.scope == 'mmpretrain'
    assert cfg.launcher == 'pytorch'
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.work_dir == 'work_dirs/mobilenet-v2_dyrelu-b_tiny-imagenet'


def test_resume_and_auto_scale_lr(tmp_path):
    # without a path and nothing in the work dir: training starts anew
    for argv, resume, load_from in (([], False, None), (['ckpt.pth'], True,
                                                        'ckpt.pth')):
        args = train_tool.parse_args([
            str(CLS_CONFIG), '--work-dir',
            str(tmp_path), '--resume', *argv, '--auto-scale-lr'
        ])
        cfg, _ = load_config(args)
        train_tool.apply_train_options(cfg, args)
        assert cfg.resume is resume and cfg.load_from == load_from
        assert cfg.auto_scale_lr.enable is True


def test_auto_scale_lr_without_base_batch_size_names_the_key():
    args = train_tool.parse_args([str(CLS_CONFIG), '--auto-scale-lr'])
    cfg, _ = load_config(args)
    cfg.auto_scale_lr = dict(enable=False)
    with pytest.raises(KeyError, match=r'auto_scale_lr.base_batch_size'):
        train_tool.apply_train_options(cfg, args)


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks the message on CPU machines')
def test_amp_without_gpu_is_refused(capsys):
    with pytest.raises(SystemExit):
        train_tool.parse_args([str(CLS_CONFIG), '--amp'])
    assert '--amp needs a GPU' in capsys.readouterr().err


@pytest.mark.parametrize('config, dump, hook_keys', [
    (DET_CONFIG, 'DumpDetResults', {
        'draw': True,
        'test_out_dir': 'vis'
    }),
    (CLS_CONFIG, 'DumpResults', {
        'enable': True,
        'out_dir': 'vis'
    }),
])
def test_out_and_show_dir(config, dump, hook_keys):
    args = test_tool.parse_args(
        [str(config), 'ckpt.pth', '--out', 'preds.pkl', '--show-dir', 'vis'])
    cfg, toolbox = load_config(args)
    test_tool.apply_test_options(cfg, toolbox, args)
    assert cfg.load_from == 'ckpt.pth' and not cfg.resume
    assert cfg.test_evaluator[-1] == dict(type=dump, out_file_path='preds.pkl')
    hook = cfg.default_hooks.visualization
    assert {key: hook[key] for key in hook_keys} == hook_keys


def test_out_must_be_a_pickle(capsys):
    with pytest.raises(SystemExit):
        test_tool.parse_args([str(CLS_CONFIG), 'ckpt.pth', '--out', 'x.json'])
    assert 'give a .pkl file' in capsys.readouterr().err


@pytest.mark.parametrize(
    'items', [['train_cfg.max_epochs'], ['train_cfg.max_epochs', '=', '3']])
def test_cfg_options_item_without_equals_is_named(items, capsys):
    with pytest.raises(SystemExit):
        train_tool.parse_args([str(CLS_CONFIG), '--cfg-options', *items])
    err = capsys.readouterr().err
    assert "--cfg-options: 'train_cfg.max_epochs' is not KEY=VALUE" in err
    assert 'e.g. train_cfg.max_epochs=2' in err


def test_package_config_path_in_an_editable_install_says_to_use_the_path(
        tmp_path, monkeypatch):
    # what mmengine finds for an editable install: a package folder in
    # site-packages that does not exist, so no .mim/configs
    import mmengine.config.config as mmengine_config
    site_packages = tmp_path / 'site-packages'
    installed = mmengine_config.get_installed_path
    monkeypatch.setattr(
        mmengine_config, 'get_installed_path',
        lambda package: str(site_packages / package)
        if package == 'mmdynact' else installed(package))
    example = 'dyrelu/retinanet_r50-dyrelu-b_fpn_1x_coco.py'
    mine = tmp_path / 'mine.py'
    mine.write_text(f"_base_ = 'mmdynact::{example}'\n")
    with pytest.raises(FileNotFoundError) as error:
        load_toolbox_config(str(mine))
    message = str(error.value)
    configs = REPO / 'configs'
    assert message.startswith(f"{mine}: _base_ = 'mmdynact::...' cannot be "
                              'resolved')
    assert f'our configs in {site_packages}/mmdynact/.mim, ' in message
    assert f"_base_ = '{configs / example}'" in message
    # which works
    mine.write_text(f"_base_ = '{configs / example}'\n")
    cfg, toolbox = load_toolbox_config(str(mine))
    assert toolbox.scope == 'mmdet' and cfg.model.type == 'RetinaNet'
