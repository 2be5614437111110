# Weight-decay rules, as optim_wrapper.paramwise_cfg pieces.

# ACON's per-channel p1, p2 and beta: no weight decay.
acon_no_decay = {
    '.p1': dict(decay_mult=0.0),
    '.p2': dict(decay_mult=0.0),
    '.beta': dict(decay_mult=0.0),
}

# The official ImageNet training of FReLU (megvii-model/FunnelAct) and of
# ACON / Meta-ACON (nmaac/acon), ResNet and ShuffleNetV2 alike, decays only
# the weights of convolutions and fully connected layers (its rule: a
# parameter named '...weight' with more than one dimension). No decay on
# norm weights and biases, on any bias, nor on ACON's p1, p2, beta. Use as
#   optim_wrapper = dict(paramwise_cfg=_base_.conv_fc_weight_decay)
conv_fc_weight_decay = dict(
    norm_decay_mult=0.0, bias_decay_mult=0.0, custom_keys=acon_no_decay)
