"""ResNet with a separate, placeable activation layer at every position.

Imports mmpretrain: it is loaded only when an ``ActResNet*`` is built (see
:mod:`mmdynact.models.backbones`).

Upstream ResNets hard-code ``nn.ReLU`` (mmdet, mmseg, mmpose) or share one
activation instance across the widths of a block (mmpretrain), which
channel-dependent activations cannot use. Here the network is mmpretrain's
``ResNet`` (stems, stages, freezing, ``norm_eval``, ``with_cp``, init) and
every activation is its own layer, built for the channels it sees:

* ``stem``:  after the stem conv (V1b), or after each of the three stem
  convs (V1c/V1d deep stem);
* ``conv1``: after the first conv of each block (Bottleneck: the 1x1
  reduction; BasicBlock: the first 3x3);
* ``conv2``: after the 3x3 conv (Bottleneck: conv2; BasicBlock, whose
  conv2 feeds the addition directly: the same activation as ``conv1``, so a
  placement written for ResNet-50 also means "after the 3x3" in ResNet-18);
* ``add``:   after the residual addition.

``act_cfg`` goes to the positions in ``act_positions`` of the stages in
``act_stages`` (``stem`` does not belong to a stage); all others are
``ReLU``. The papers' placements (ResNet-50):

============================  ========================  ===============
paper                         ``act_positions``         ``act_stages``
============================  ========================  ===============
FReLU (official code)         ``('conv1', 'conv2',      ``(0, 1, 2)``
                              'add')``
FReLU, 3x3 only (partial)     ``('conv2', )``           ``(0, 1, 2)``
ACON-C / Meta-ACON            ``('conv2', )``           all (``None``)
DY-ReLU                       all (``None``)            all (``None``)
============================  ========================  ===============

Initialisation: the backbone's ``init_cfg`` (by default Kaiming on every
``Conv2d``, constant 1 on every batch norm) reaches the convs and norms
*inside* the activation layers too, as in every ConvModule-based upstream
backbone and in the papers' code (torchvision-style loops over all convs).
Each such conv feeds a batch norm (FReLU, DY-ReLU-C) or a sigmoid (Meta-ACON),
so its scale is harmless. A ``Pretrained`` checkpoint sets them like
everything else; ACON's ``p1``/``p2``/``beta`` and DY-ReLU's ``Linear`` layers
keep their own initialisation.

The norms inside the activations (FReLU's funnel norm, DY-ReLU-C's spatial
norm, Meta-ACON's switching-network norms) are of the backbone's
``norm_cfg``, ``requires_grad`` included (SyncBN on a cluster), unless
``act_cfg`` names one of its own.

``norm_eval=True`` puts every batch norm of the backbone in eval mode,
including those inside activations (FReLU's funnel norm, DY-ReLU-C's spatial
norm, Meta-ACON's optional norms): they are part of the backbone and see the
same small detection batches. ``frozen_stages`` freezes the activations of
the frozen stages and, from ``frozen_stages >= 0``, of the stem.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch.utils.checkpoint as cp
from mmpretrain.models.backbones.resnet import (BasicBlock, Bottleneck,
                                                ResLayer, ResNet)
from torch import Tensor, nn

from mmdynact.models.activations import build_activation

POSITIONS = ('stem', 'conv1', 'conv2', 'add')
RELU = dict(type='ReLU', inplace=True)


class _ActBlock:
    """Mixin: a residual block with one activation layer per position.

    Replaces the upstream block's shared ``relu`` by ``act[position]``.

    Args:
        act_cfgs: Activation config of each of the block's
            :attr:`positions`.
        *args, **kwargs: Arguments of the upstream block.
    """

    #: activation positions of the block, each with the placement names
    #: (``act_positions`` entries) that select it
    positions: Dict[str, Tuple[str, ...]]
    #: (conv, norm, activation position or None) in order, before the add
    layout: Tuple[Tuple[str, str, Optional[str]], ...]

    def __init__(self, *args, act_cfgs: Dict[str, dict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.relu
        channels = dict(
            conv1=self.mid_channels,
            conv2=self.mid_channels,
            add=self.out_channels)
        self.act = nn.ModuleDict({
            pos:
            build_activation(act_cfgs[pos], channels[pos], self.norm_cfg)
            for pos in self.positions
        })

    def residual(self, x: Tensor) -> Tensor:
        """The block up to and including the residual addition."""
        out = x
        for conv, norm, position in self.layout:
            out = getattr(self, norm)(getattr(self, conv)(out))
            if position is not None:
                out = self.act[position](out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.drop_path(out) + identity

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self.residual, x, use_reentrant=False)
        else:
            out = self.residual(x)
        return self.act['add'](out)


class ActBottleneck(_ActBlock, Bottleneck):
    """mmpretrain's ``Bottleneck`` with activations at conv1, conv2, add."""
    positions = dict(conv1=('conv1', ), conv2=('conv2', ), add=('add', ))
    layout = (('conv1', 'norm1', 'conv1'), ('conv2', 'norm2', 'conv2'),
              ('conv3', 'norm3', None))


class ActBasicBlock(_ActBlock, BasicBlock):
    """mmpretrain's ``BasicBlock`` with activations at conv1 and add."""
    positions = dict(conv1=('conv1', 'conv2'), add=('add', ))
    layout = (('conv1', 'norm1', 'conv1'), ('conv2', 'norm2', None))


#: mmpretrain's ResNet block -> ours
_ACT_BLOCKS = {Bottleneck: ActBottleneck, BasicBlock: ActBasicBlock}


class ActResNet(ResNet):
    """ResNet (V1b stem) whose activations are placed per position and stage.

    See :mod:`mmdynact.models.backbones.act_resnet` for the positions, the
    papers' placements, the init policy and ``norm_eval``. All other
    arguments are those of mmpretrain's ``ResNet`` (``depth`` 18-152,
    ``strides``, ``dilations``, ``out_indices``, ``frozen_stages``,
    ``norm_eval``, ``with_cp``, ``deep_stem``, ``avg_down``...).

    Args:
        depth: 18, 34, 50, 101 or 152.
        act_cfg: Activation at the placed positions, e.g.
            ``dict(type='FReLU')``; its channel count is filled in.
        act_positions: Positions that get ``act_cfg``, from
            ``('stem', 'conv1', 'conv2', 'add')``; ``None`` for all.
            ``conv2`` is "after the 3x3 conv", which in BasicBlock ResNets
            (depth 18, 34) is the activation after conv1.
        act_stages: Stage indices (0-based, as ``out_indices``) whose blocks
            get ``act_cfg``; ``None`` for all.
        contract_dilation: Halve the dilation of the first block of every
            stage with dilation > 1, as mmseg's ResNet (PSPNet/DeepLab D8).
        pretrained: Checkpoint path, turned into a ``Pretrained`` init_cfg
            (mmseg's segmentors pass their ``pretrained`` here).
        **kwargs: Arguments of mmpretrain's ``ResNet``. A ``Pretrained``
            ``init_cfg`` is read only by ``init_weights()``, as upstream.
    """

    arch_settings = {
        depth: (_ACT_BLOCKS[block], stage_blocks)
        for depth, (block, stage_blocks) in ResNet.arch_settings.items()
    }

    def __init__(self,
                 depth: int,
                 act_cfg: dict = RELU,
                 act_positions: Optional[Sequence[str]] = None,
                 act_stages: Optional[Sequence[int]] = None,
                 contract_dilation: bool = False,
                 pretrained: Optional[str] = None,
                 **kwargs) -> None:
        name = type(self).__name__
        if depth not in self.arch_settings:
            raise KeyError(f'{name}: invalid depth {depth}, choose one of '
                           f'{sorted(self.arch_settings)}')
        num_stages = kwargs.get('num_stages', 4)
        # read by the overridden builders while ResNet.__init__ runs
        self.act_cfg = act_cfg
        self.act_positions = self._checked_positions(act_positions)
        self.act_stages = self._checked_stages(act_stages, num_stages)
        self.contract_dilation = contract_dilation
        if pretrained is not None:
            if kwargs.get('init_cfg') is not None:
                raise ValueError(f'{name}: set either pretrained or init_cfg,'
                                 ' not both')
            kwargs['init_cfg'] = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(depth, **kwargs)

    def _checked_positions(
            self, positions: Optional[Sequence[str]]) -> Tuple[str, ...]:
        if positions is None:
            return POSITIONS
        if isinstance(positions, str) or not set(positions) <= set(POSITIONS):
            raise ValueError(f'{type(self).__name__}: act_positions must be '
                             f'a sequence of {POSITIONS} (or None for all), '
                             f'got {positions!r}')
        return tuple(positions)

    def _checked_stages(self, stages: Optional[Sequence[int]],
                        num_stages: int) -> Tuple[int, ...]:
        if stages is None:
            return tuple(range(num_stages))
        if not all(isinstance(s, int) and 0 <= s < num_stages for s in stages):
            raise ValueError(
                f'{type(self).__name__}: act_stages must be stage indices in '
                f'0..{num_stages - 1} (or None for all), got {stages!r}')
        return tuple(stages)

    def block_act_cfgs(self, block: type, stage: int) -> Dict[str, dict]:
        """Activation config of each position of ``block`` in ``stage``."""
        in_stage = stage in self.act_stages
        cfgs = {}
        for position, names in block.positions.items():
            selected = in_stage and set(names) & set(self.act_positions)
            cfgs[position] = self.act_cfg if selected else RELU
        return cfgs

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        super()._make_stem_layer(in_channels, stem_channels)
        if 'stem' not in self.act_positions:
            return
        if self.deep_stem:
            for conv_module in self.stem:
                conv_module.activate = build_activation(
                    self.act_cfg, conv_module.out_channels, self.norm_cfg)
        else:
            self.relu = build_activation(self.act_cfg, stem_channels,
                                         self.norm_cfg)

    def make_res_layer(self, block: type, num_blocks: int, dilation: int,
                       **kwargs) -> ResLayer:
        # ResNet.__init__ appends each stage's name after building it
        stage = len(self.res_layers)
        act_cfgs = self.block_act_cfgs(block, stage)
        first = dilation // 2 if (self.contract_dilation
                                  and dilation > 1) else dilation
        dilations = iter([first] + [dilation] * (num_blocks - 1))

        def build_block(**block_kwargs) -> nn.Module:
            return block(
                dilation=next(dilations), act_cfgs=act_cfgs, **block_kwargs)

        layer = ResLayer(block=build_block, num_blocks=num_blocks, **kwargs)
        layer.block = block  # the class, not the local builder (picklable)
        return layer

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        if self.frozen_stages >= 0 and not self.deep_stem:
            # upstream freezes conv1 and norm1; the stem activation too
            self.relu.eval()
            for param in self.relu.parameters():
                param.requires_grad = False


class ActResNetV1c(ActResNet):
    """:class:`ActResNet` with the V1c deep stem (three 3x3 convs)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(deep_stem=True, avg_down=False, **kwargs)


class ActResNetV1d(ActResNet):
    """:class:`ActResNet` with the V1d deep stem and avg-pool downsampling."""

    def __init__(self, **kwargs) -> None:
        super().__init__(deep_stem=True, avg_down=True, **kwargs)
