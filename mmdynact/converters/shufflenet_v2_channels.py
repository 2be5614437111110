"""Where each channel of the official ShuffleNetV2 sits in mmpretrain's.

Both networks split a stride-1 block's input into a half that passes
through and a half that the branch transforms, and concatenate the two, but
differently:

* official (Megvii): the *even* input channels pass, the *odd* ones enter
  the branch, and the output is ``[passed, branch]``;
* mmpretrain (torchvision-style): the *first* half passes, the *second*
  half enters the branch, and the output is interleaved
  (``channel_shuffle(cat(...), 2)``); stride-2 blocks interleave their two
  branch outputs the same way.

So the same weights are wired to different channels. The networks are
equivalent nonetheless: every branch ends in per-channel layers (1x1 conv,
BN, activation), whose output channels can be reordered, and every branch
starts with a 1x1 conv (or a depthwise conv), whose input channels can be
reordered. This module follows every channel symbolically through both
networks, as ``(producer, index)`` labels, and pairs each of our branch
outputs with an official one consumed by the same later block; it fails if
no such pairing exists.
"""
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

Label = Tuple[str, int]
STEM = 'conv1'
LAST = 'layers.3'


@dataclass
class ChannelMaps:
    """Official channel index of each of our channels.

    Attributes:
        outputs: Producer module (``conv1``, ``layers.S.B.branch1.1``,
            ``layers.S.B.branch2.2``) -> for each of its output channels in
            our network, the official output channel.
        inputs: Consumer (``layers.S.B``: the channels its branches read;
            ``layers.3``: the last 1x1 conv) -> for each input channel in our
            network, the official input channel.
    """
    outputs: Dict[str, List[int]]
    inputs: Dict[str, List[int]]


def _interleave(first: List[Label], second: List[Label]) -> List[Label]:
    return [label for pair in zip(first, second) for label in pair]


def _produce(module: str, channels: int) -> List[Label]:
    return [(module, index) for index in range(channels)]


def _trace(blocks: Sequence[Tuple[str, int, int]], stem: int,
           official: bool) -> Tuple[Dict[str, List[Label]], List[Label]]:
    """Inputs of every consumer and the producer outputs, in one network.

    Args:
        blocks: ``(name, stride, channels per branch)`` of every block.
        stem: Output channels of the stem.
        official: Trace the official network, else mmpretrain's.
    """
    flow = _produce(STEM, stem)
    outputs = list(flow)
    inputs: Dict[str, List[Label]] = {}
    for name, stride, width in blocks:
        branch = _produce(f'{name}.branch2.2', width)
        outputs += branch
        if stride == 2:
            proj = _produce(f'{name}.branch1.1', width)
            outputs += proj
            inputs[name] = flow
            flow = proj + branch if official else _interleave(proj, branch)
        elif official:
            inputs[name] = flow[1::2]
            flow = flow[0::2] + branch
        else:
            half = len(flow) // 2
            inputs[name] = flow[half:]
            flow = _interleave(flow[:half], branch)
    inputs[LAST] = flow
    return inputs, outputs


def shufflenet_v2_channel_maps(stage_channels: Sequence[int],
                               stage_blocks: Sequence[int] = (4, 8, 4),
                               stem: int = 24) -> ChannelMaps:
    """Pair the channels of the official ShuffleNetV2 and mmpretrain's.

    Args:
        stage_channels: Output channels of each stage (e.g. 48, 96, 192);
            each branch has half of them.
        stage_blocks: Blocks per stage; the first one of a stage strides.
        stem: Output channels of the stem conv.
    """
    blocks = [
        (f'layers.{stage}.{index}', 2 if index == 0 else 1, channels // 2)
        for stage, (channels,
                    count) in enumerate(zip(stage_channels, stage_blocks))
        for index in range(count)
    ]
    official_inputs, producers = _trace(blocks, stem, official=True)
    our_inputs, _ = _trace(blocks, stem, official=False)
    official_consumer = _consumers(official_inputs)
    our_consumer = _consumers(our_inputs)
    # (producer, consumer) -> official channel indices, in order
    pool: Dict[Tuple[str, str], List[int]] = defaultdict(list)
    for module, index in producers:
        pool[module, official_consumer[module, index]].append(index)
    outputs: Dict[str, List[int]] = defaultdict(list)
    for module, index in producers:
        candidates = pool[module, our_consumer[module, index]]
        if not candidates:
            raise ValueError(
                f'ShuffleNetV2 {tuple(stage_channels)}: channel {index} of '
                f'{module} feeds {our_consumer[module, index]} in '
                "mmpretrain's network, but no official channel of it does; "
                'the two networks are not equivalent at these widths')
        outputs[module].append(candidates.pop(0))
    inputs = {}
    for consumer, labels in our_inputs.items():
        position = {
            label: i
            for i, label in enumerate(official_inputs[consumer])
        }
        inputs[consumer] = [
            position[module, outputs[module][index]]
            for module, index in labels
        ]
    return ChannelMaps(dict(outputs), inputs)


def _consumers(inputs: Dict[str, List[Label]]) -> Dict[Label, str]:
    return {
        label: consumer
        for consumer, labels in inputs.items()
        for label in labels
    }
