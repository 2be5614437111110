"""mmpretrain's ``LinearClsHead`` with dropout before the classifier.

Imports mmpretrain: it is loaded only when a ``DropoutLinearClsHead`` is
built (see :mod:`mmdynact.models.heads`).

The official FReLU ResNets (megvii-model/FunnelAct) apply ``Dropout(0.2)``
to the pooled features before the final fully connected layer; mmpretrain's
heads have no dropout there (``StackedLinearClsHead`` drops after its hidden
layers only).
"""
from typing import Tuple

from mmpretrain.models.heads import LinearClsHead
from torch import Tensor, nn


class DropoutLinearClsHead(LinearClsHead):
    """``fc(dropout(features))``.

    Args:
        dropout: Probability of zeroing a feature in training.
        *args, **kwargs: Arguments of mmpretrain's ``LinearClsHead``.
    """

    def __init__(self, *args, dropout: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not 0 <= dropout < 1:
            raise ValueError(f'DropoutLinearClsHead: dropout must be in '
                             f'[0, 1), got {dropout}')
        self.dropout = nn.Dropout(dropout)

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        return self.dropout(super().pre_logits(feats))
