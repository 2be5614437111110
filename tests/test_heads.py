"""The heads of mmdynact.models.heads that are not about activations."""
import pytest
import torch
from mmengine.registry import MODELS, DefaultScope


def build_head(**kwargs):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(
            dict(
                type='DropoutLinearClsHead',
                num_classes=5,
                in_channels=64,
                **kwargs))


def test_dropout_linear_cls_head_drops_features_in_training_only():
    head = build_head(dropout=0.5)
    features = (torch.randn(2, 32), torch.ones(8, 64))
    logits = torch.nn.functional.linear(features[-1], head.fc.weight,
                                        head.fc.bias)
    torch.testing.assert_close(head.eval()(features), logits)
    head.train()
    dropped = head.pre_logits(features)
    assert ((dropped == 0) | (dropped == 2)).all()  # zeroed or scaled 1/(1-p)
    assert 0 < (dropped == 0).float().mean() < 1
    assert not torch.equal(head(features), logits)


def test_dropout_linear_cls_head_without_dropout_is_linear_cls_head():
    head = build_head().train()
    features = (torch.randn(4, 64), )
    torch.testing.assert_close(head(features), head.fc(features[-1]))


def test_dropout_linear_cls_head_checks_its_rate():
    with pytest.raises(
            ValueError,
            match='DropoutLinearClsHead: dropout must '
            'be in \\[0, 1\\), got 1.0'):
        build_head(dropout=1.0)
