"""Event-driven input projections: multiply only the non-zero inputs.

A spiking layer's input is mostly zeros: rate-coded spike trains (a few % ones), a binary
LIF layer's spikes, a multi-bit layer's outputs (Ponghiran & Roy report ~84% zeros for
v2). The input projection of all steps, ``A = X W`` with ``X`` the stacked (T*B, n_in)
input, then needs only ``nnz(X) * H`` multiply-adds instead of ``T*B*n_in*H``: a compressed
sparse row (CSR) matrix holds each row's non-zero values and their columns, and the product
adds, for every non-zero ``X[r, j]``, ``X[r, j] * W[j, :]`` into row r — an "event" per
non-zero input, as neuromorphic hardware processes spikes.

Whether that saves *time* on a CPU depends on the density: a dense BLAS product streams at
tens of GFLOP/s, a sparse one does scattered row reads at a fraction of that. The path is
chosen by the *measured* density of each input: below :data:`EVENT_DENSITY` (the crossover
``benchmarks/sparsity.py`` measures; re-measure it on your machine) the CSR product, else
the dense one. The two give the same sums in a different order: equal up to float
round-off (exactly equal when every partial sum is exact, e.g. small integers).

Used for inference (the layers' ``inputs`` and eval-mode forward); the weight gradient
``X^T dA`` of a training step can use the same matrix (``src`` does).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

__all__ = ["EVENT_DENSITY", "MIN_INPUTS", "MIN_SIZE", "density", "input_matrix", "project"]

#: Density (fraction of non-zero inputs) below which the event-driven (CSR) product is used.
#: Measured by ``benchmarks/sparsity.py`` (one thread, float32, H = 64 to 512): the CSR
#: product wins below about 5-10% non-zeros against OpenBLAS's dense product.
EVENT_DENSITY = 0.1
#: Inputs narrower than this, or smaller in total, always take the dense product (the CSR
#: bookkeeping costs more than it saves; it also keeps tiny test problems on one path).
MIN_INPUTS = 32
MIN_SIZE = 4096


def density(X):
    """Fraction of non-zero entries of ``X``."""
    X = np.asarray(X)
    return float(np.count_nonzero(X)) / max(X.size, 1)


def input_matrix(X2, max_density=None):
    """The (rows, n_in) input ``X2`` as it is multiplied: itself (dense), or a CSR matrix when
    its measured density is at most ``max_density`` (and it is not tiny: :data:`MIN_INPUTS`,
    :data:`MIN_SIZE`; ``max_density`` None: :data:`EVENT_DENSITY`, read at each call). Both
    support ``@ W`` and ``.T @ dA``."""
    if max_density is None:
        max_density = EVENT_DENSITY
    if X2.ndim != 2 or X2.shape[1] < MIN_INPUTS or X2.size < MIN_SIZE:
        return X2
    flat = np.flatnonzero(X2.reshape(-1) != 0)  # on a bool mask: much faster than on floats
    if flat.size > max_density * X2.size:
        return X2
    rows, cols = np.divmod(flat, X2.shape[1])
    indptr = np.zeros(X2.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=X2.shape[0]), out=indptr[1:])
    return scipy.sparse.csr_matrix((X2.reshape(-1)[flat], cols, indptr), shape=X2.shape)


def project(X2, W, max_density=None):
    """``X2 @ W`` (rows, H): event-driven (CSR, only the non-zero inputs multiplied) when
    ``X2`` is sparse enough, else the dense product. ``max_density=0`` forces the dense
    product, ``1`` the event-driven one (for inputs that are not tiny)."""
    X = input_matrix(X2, max_density)
    return np.asarray(X @ W) if X is not X2 else X2 @ W
