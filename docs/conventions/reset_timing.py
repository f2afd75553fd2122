"""The reset timing: snnTorch (reset_delay=True) subtracts the threshold of a spike in the
NEXT step, after the leak: V[t+1] = alpha V[t] + I - theta S[t] (our reset_timing=
"next_step", the paper's Eq. 8). Norse and SpikingJelly reset right after the spike and leak
the reset membrane: V[t+1] = alpha (V[t] - theta S[t]) + I ("same_step"). With the
subtractive reset the two differ by (1 - alpha) theta after every spike; with the zero reset
they are the same function. They also store different membranes: snnTorch the potential
before its reset, Norse/SpikingJelly after.

Run: python docs/conventions/reset_timing.py
"""
import numpy as np
import snntorch
import torch
from spikingjelly.activation_based import neuron, surrogate

from snn_from_scratch import cells

alpha, theta, T = 0.8, 1.0, 4
drive = np.array([1.5, 0.2, 0.2, 0.2])      # one spike at t = 0, then a small input
leaky = snntorch.Leaky(beta=torch.tensor(alpha, dtype=torch.float64),
                       threshold=torch.full((1,), theta, dtype=torch.float64), reset_mechanism="subtract")
mem, sn = torch.zeros(1, dtype=torch.float64), []
for t in range(T):
    _, mem = leaky(torch.tensor(drive[t:t + 1]), mem)
    sn.append(mem.item())
sj = neuron.LIFNode(tau=1 / (1 - alpha), decay_input=False, v_threshold=theta, v_reset=None,
                    surrogate_function=surrogate.ATan(), step_mode="m", store_v_seq=True)
sj(torch.tensor(drive, dtype=torch.float64).reshape(T, 1))
ours = {}
for timing in ("next_step", "same_step"):
    cell = cells.make("lif", 1, 1, synaptic=False, alpha=alpha, threshold=theta, reset="subtract",
                      detach_reset=True, reset_timing=timing)
    cell.params["W"][...] = 1.0
    ours[timing] = [s.V.item() for _, s, _ in cell.trace(drive.reshape(T, 1, 1))]
print("snnTorch Leaky mem (before its reset):   ", np.round(sn, 6))
print("our next_step State.V:                   ", np.round(ours["next_step"], 6))
print("SpikingJelly LIFNode v (after its reset):", np.round(sj.v_seq.squeeze().numpy(), 6))
print("our same_step State.V:                   ", np.round(ours["same_step"], 6))
np.testing.assert_allclose(sn, ours["next_step"], rtol=1e-15)
np.testing.assert_allclose(sj.v_seq.squeeze().numpy(), ours["same_step"], rtol=1e-15)
# after the spike: V[1] = alpha*1.5 + 0.2 - theta (next_step) vs alpha*(1.5 - theta) + 0.2
gap = (alpha * (1.5 - theta) + 0.2) - (alpha * 1.5 + 0.2 - theta)
print(f"potential at t = 1: same_step - next_step = (1 - alpha) * theta = {gap:.6f}")
assert abs(gap - (1 - alpha) * theta) < 1e-15
