"""Norse's method="super" ignores its alpha: SuperSpike.backward returns
grad / (|u| + 1)^2 whatever alpha is — our fast_sigmoid(k=1) (Norse 1.1,
norse/torch/functional/superspike.py).

Run: python docs/conventions/norse_super_alpha.py
"""
import numpy as np
import torch
from norse.torch.functional.threshold import threshold

from snn_from_scratch import surrogates

u0 = np.array([-2.0, -0.5, 0.0, 0.3, 1.5])
grads = {}
for alpha in (1.0, 10.0, 100.0):
    u = torch.tensor(u0, requires_grad=True)
    threshold(u, "super", alpha).sum().backward()
    grads[alpha] = u.grad.numpy()
    print(f"alpha={alpha:>5}: dH/du = {grads[alpha]}")
ours = surrogates.get("fast_sigmoid", k=1.0).grad(u0)
print(f"our fast_sigmoid(k=1):  {ours}")
assert all(np.array_equal(g, grads[1.0]) for g in grads.values())   # alpha changes nothing
np.testing.assert_allclose(grads[100.0], ours, rtol=1e-15)
