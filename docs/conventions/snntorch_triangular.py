"""snnTorch's surrogate.triangular() is not a triangle: its gradient is +threshold below the
threshold and -threshold at and above it (snnTorch 1.0, surrogate.Triangular.backward:
``grad = grad_output * threshold; grad[input_ >= 0] = -grad[input_ >= 0]``).

Run: python docs/conventions/snntorch_triangular.py
"""
import numpy as np
import torch
from snntorch import surrogate

from snn_from_scratch import surrogates

u = torch.tensor([-2.0, -0.5, -0.1, 0.0, 0.1, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
surrogate.triangular()(u).sum().backward()
ours = surrogates.get("triangle").grad(u.detach().numpy())
print("u                      ", u.detach().numpy())
print("snnTorch triangular()' ", u.grad.numpy())
print("our triangle'          ", ours)
assert np.all(u.grad.numpy()[u.detach().numpy() < 0] == 1.0)    # +1 below threshold
assert np.all(u.grad.numpy()[u.detach().numpy() >= 0] == -1.0)  # -1 at and above
