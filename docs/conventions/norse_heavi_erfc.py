"""Norse's method="heavi_erfc" divides by torch.as_tensor(np.pi).sqrt(): a Python float
becomes a float32 tensor under torch's default dtype, so a float64 model's surrogate
gradient carries a float32 constant (relative error ~3e-8 against the exact
2 exp(-(2u)^2)/sqrt(pi) = our gaussian(a=1/4)). Under torch.set_default_dtype(torch.float64)
it is exact.

Run: python docs/conventions/norse_heavi_erfc.py
"""
import numpy as np
import torch
from norse.torch.functional.threshold import threshold

from snn_from_scratch import surrogates

u0 = np.linspace(-1, 1, 9)
exact = surrogates.get("gaussian", a=0.25).grad(u0)
for dtype in (torch.float32, torch.float64):
    torch.set_default_dtype(dtype)
    u = torch.tensor(u0, dtype=torch.float64, requires_grad=True)
    threshold(u, "heavi_erfc", 2.0).sum().backward()
    err = np.max(np.abs(u.grad.numpy() - exact)) / np.max(exact)
    print(f"default dtype {dtype}: relative error of the float64 gradient {err:.1e}")
    assert (err > 1e-9) if dtype == torch.float32 else (err < 1e-15)
torch.set_default_dtype(torch.float32)
