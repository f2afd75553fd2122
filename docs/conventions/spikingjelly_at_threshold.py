"""SpikingJelly spikes where the potential reaches the threshold (heaviside: x >= 0);
snnTorch and Norse only above it (x > 0), as our default. A potential exactly at the
threshold tells them apart; our ``spike_at_threshold=True`` is SpikingJelly's rule.

Run: python docs/conventions/spikingjelly_at_threshold.py
"""
import numpy as np
import torch
from norse.torch.functional.heaviside import heaviside as norse_heaviside
from snntorch import surrogate as sn_surrogate
from spikingjelly.activation_based import neuron, surrogate

from snn_from_scratch import cells

x = torch.full((1, 1, 1), 1.0, dtype=torch.float64)     # one step, V = x = threshold exactly
sj = neuron.IFNode(v_threshold=1.0, surrogate_function=surrogate.ATan(), step_mode="m")
sj_spike = sj(x).item()
print("SpikingJelly IFNode:   spike =", sj_spike)
print("snnTorch (u = 0):      spike =", sn_surrogate.atan()(torch.zeros(1, dtype=torch.float64)).item())
print("Norse heaviside(0):    spike =", norse_heaviside(torch.zeros(1)).item())
for at in (False, True):
    cell = cells.make("lif", 1, 1, synaptic=False, alpha=1.0, threshold=1.0, reset="zero",
                      reset_timing="same_step", spike_at_threshold=at)
    cell.params["W"][...] = 1.0
    y, _ = cell.forward(np.ones((1, 1, 1)))
    print(f"our lif, spike_at_threshold={at!s:<5}: spike = {y.item()}")
    assert y.item() == (1.0 if at else 0.0)
assert sj_spike == 1.0
