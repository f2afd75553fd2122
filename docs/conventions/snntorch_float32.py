"""snnTorch's spikes are float32 even in a float64 model ((u > 0).float()): the gradient
through every spike is rounded to float32, a 0-d float64 threshold times the float32 spike
is computed in float32 (PyTorch lets a 0-d tensor not raise the dtype), and a float64
network cannot run at all: the Linear after a neuron gets a float32 spike.

Run: python docs/conventions/snntorch_float32.py
"""
import snntorch
import torch

leaky = snntorch.Leaky(beta=torch.tensor(0.9, dtype=torch.float64))
spk, mem = leaky(torch.tensor([2.0], dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
print("spike dtype in a float64 model:", spk.dtype)
theta0 = torch.tensor(0.7, dtype=torch.float64)
print("0-d float64 theta * float32 spike ->", (theta0 * spk).dtype,
      "; (H,) float64 theta * spike ->", (torch.full((1,), 0.7, dtype=torch.float64) * spk).dtype)
net = torch.nn.Sequential(torch.nn.Linear(2, 3), snntorch.Leaky(beta=0.9, init_hidden=True),
                          torch.nn.Linear(3, 1)).double()
try:
    net(torch.ones(1, 2, dtype=torch.float64))
except RuntimeError as e:
    print("a float64 network:", e)
assert spk.dtype == torch.float32
