"""Convert an official ACON-C / Meta-ACON ResNet checkpoint (nmaac/acon).

    python tools/model_converters/acon_resnet_to_mmdynact.py SRC DST

DST holds an mmpretrain classifier whose backbone is mmdynact's
``ActResNet`` (``style='caffe'``, ACON after the 3x3 convs; Meta-ACON with
``norm_cfg=dict(type='BN')``); the script prints the backbone config. See
:mod:`mmdynact.converters.acon_resnet`;
the command line is :func:`mmdynact.cli.convert.acon_resnet`.
"""
from mmdynact.cli.convert import acon_resnet

if __name__ == '__main__':
    acon_resnet()
