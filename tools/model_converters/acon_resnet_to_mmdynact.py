"""Convert an official ACON-C / Meta-ACON ResNet checkpoint (nmaac/acon).

    python tools/model_converters/acon_resnet_to_mmdynact.py SRC DST

DST holds an mmpretrain classifier whose backbone is mmdynact's
``ActResNet`` (``style='caffe'``, ACON after the 3x3 convs; Meta-ACON with
``norm_cfg=dict(type='BN')``); the script prints the backbone config. See
:mod:`mmdynact.converters.acon_resnet`.
"""
from mmdynact.converters import convert_acon_resnet
from mmdynact.converters.cli import main

if __name__ == '__main__':
    main(convert_acon_resnet, __doc__.split('\n')[0])
