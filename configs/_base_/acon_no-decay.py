# ACON's per-channel p1, p2 and beta get no weight decay. Use as
#   optim_wrapper = dict(paramwise_cfg=dict(custom_keys=_base_.acon_no_decay))
acon_no_decay = {
    '.p1': dict(decay_mult=0.0),
    '.p2': dict(decay_mult=0.0),
    '.beta': dict(decay_mult=0.0),
}
