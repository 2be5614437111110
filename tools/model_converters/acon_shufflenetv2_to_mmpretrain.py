"""Convert an official ACON-C / Meta-ACON ShuffleNetV2 0.5x (nmaac/acon).

    python tools/model_converters/acon_shufflenetv2_to_mmpretrain.py SRC DST

DST holds an mmpretrain classifier with mmpretrain's ``ShuffleNetV2``
(``widen_factor=0.5``, ``act_cfg`` ``AconC`` or ``MetaAconC`` with ``r=8``
and ``norm_cfg=dict(type='BN')``); the script prints the backbone config.
Channels are reordered to mmpretrain's block wiring. See
:mod:`mmdynact.converters.acon_shufflenet_v2`;
the command line is :func:`mmdynact.cli.convert.acon_shufflenet_v2`.
"""
from mmdynact.cli.convert import acon_shufflenet_v2

if __name__ == '__main__':
    acon_shufflenet_v2()
