"""One screen of BPTT: a LIF layer with a synaptic current, by hand, in NumPy.

Ponghiran & Roy (2022), Eq. 7-9; time-major x (T, B, n_in), every state (B, H):
    I[t] = beta * I[t-1] + x[t] W                    (Eq. 7, synaptic current)
    V[t] = alpha * V[t-1] + I[t] - gamma * S[t-1]    (Eq. 8, leak, input, subtractive reset)
    S[t] = H(V[t] - gamma),  backward: dS/dV = max(0, 1 - |V - gamma|)   (Eq. 9, triangle)
Readout: logits = mean_t(S[t]) Wo + bo, softmax cross-entropy; trained on MNIST-1D.
Standalone on purpose (NumPy + the mnist1d package): python examples/lif_bptt.py
"""
import os
import numpy as np

ALPHA, BETA, GAMMA = 0.9, 0.8, 0.7  # membrane decay, synaptic decay, threshold

def heaviside(u): return (u > 0).astype(u.dtype)
def surrogate(u): return np.maximum(0.0, 1.0 - np.abs(u))  # the triangle
def primitive(u):  # a smooth ramp from 0 to 1 whose derivative is the triangle
    v = np.clip(u, -1.0, 1.0)
    return 0.5 + v - 0.5 * v * np.abs(v)

def lif_forward(x, W, alpha, beta, gamma, frozen=None):
    """Spikes S (T, B, H) and the cache. frozen: see gradcheck (None: the real network)."""
    A = x @ W                               # every step's input projection, one product
    I = V = S = np.zeros(A.shape[1:], A.dtype)
    Ss, U = np.empty_like(A), np.empty_like(A)
    for t in range(len(A)):
        I = beta * I + A[t]                 # Eq. 7
        V = alpha * V + I - gamma * S       # Eq. 8 (S is still S[t-1] here)
        U[t] = V - gamma
        Ss[t] = S = heaviside(U[t]) if frozen is None else primitive(U[t]) + frozen[t]  # Eq. 9
    return Ss, (x, W, U)

def lif_backward(dS, cache, alpha, beta, gamma):
    """(dx, dW) given dS[t] = dL/dS[t] from above (the readout)."""
    x, W, U = cache
    dA = np.empty_like(dS)
    dV_next = dI_next = dS_reset = 0.0      # what flows back from step t+1
    for t in reversed(range(len(dS))):
        dSt = dS[t] + dS_reset              # S[t] feeds the readout and V[t+1]'s reset
        dV = dSt * surrogate(U[t]) + alpha * dV_next  # S[t] = H(V[t] - gamma); V[t+1] = alpha V[t] + ..
        dI = dV + beta * dI_next            # V[t] = .. + I[t];  I[t+1] = beta I[t] + ..
        dA[t] = dI                          # I[t] = .. + x[t] W
        dS_reset = -gamma * dV              # V[t] = .. - gamma S[t-1]: the reset's path back
        dV_next, dI_next = dV, dI
    dW = x.reshape(-1, x.shape[2]).T @ dA.reshape(-1, dA.shape[2])  # summed over t and batch
    return dA @ W.T, dW

# The readout is the mean spike count: reading S at the last step only would send gradient
# into one step's surrogate (most neurons are far from threshold then) and starve the layer;
# the mean over time sends dL/dS[t] = dL/dr / T into every step, so every step teaches W.
def forward(params, x, frozen=None):
    S, lif_cache = lif_forward(x, params["W"], ALPHA, BETA, GAMMA, frozen)
    r = S.mean(0)                           # (B, H) firing rates
    return r @ params["Wo"] + params["bo"], (lif_cache, r)

def cross_entropy(logits, y):
    """Mean softmax cross-entropy and dL/dlogits."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n = np.arange(len(y))
    loss = -np.log(p[n, y]).mean()
    p[n, y] -= 1
    return loss, p / len(y)

def backward(dlogits, cache, params):
    lif_cache, r = cache
    dr = dlogits @ params["Wo"].T           # logits = r Wo + bo
    T = len(lif_cache[2])
    dS = np.broadcast_to(dr / T, (T,) + dr.shape)  # r = mean_t S[t]
    dx, dW = lif_backward(dS, lif_cache, ALPHA, BETA, GAMMA)
    return {"W": dW, "Wo": r.T @ dlogits, "bo": dlogits.sum(0), "x": dx}

# A plain finite difference of a spiking net is useless: H is flat, so nudging W by h flips
# no spike and the difference is 0 (or, on a flip, a jump of size 1/h), while backward
# reports the surrogate. So we check backward against a *frozen twin*: each spike is written
# primitive(u) + stop(H(u~) - primitive(u~)), the stop term recorded at the nominal point u~.
# There the twin's spikes are the real ones and its exact dS/dV is the triangle: the rule
# backward claims. float64, central differences, every entry of every parameter and of x.
def gradcheck(params, x, y, h=1e-5):
    """Relative error ||num - ana|| / (||num|| + ||ana||) per parameter and for x."""
    arrays = {k: np.array(v, np.float64) for k, v in {**params, "x": x}.items()}
    logits, cache = forward(arrays, arrays["x"])
    grads = backward(cross_entropy(logits, y)[1], cache, arrays)
    U = cache[0][2]
    frozen = heaviside(U) - primitive(U)    # the recorded stop term
    loss = lambda: cross_entropy(forward(arrays, arrays["x"], frozen)[0], y)[0]
    errors = {}
    for k, a in arrays.items():
        num = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h; up = loss()
            a[i] = old - h; down = loss()
            a[i], num[i] = old, (up - down) / (2 * h)
        errors[k] = np.linalg.norm(num - grads[k]) / (np.linalg.norm(num) + np.linalg.norm(grads[k]))
    return errors

def load_data(n):
    from mnist1d.data import make_dataset, get_dataset_args
    args = get_dataset_args()               # generated locally, nothing is downloaded
    args.num_samples = n
    state = np.random.get_state()           # make_dataset seeds NumPy's global generator
    d = make_dataset(args)
    np.random.set_state(state)
    # (N, 40) -> time-major (10, N, 4), four samples a step: with one sample a step every
    # neuron sees a scaled copy of one signal and its rate says little about the digit.
    tm = lambda a: a.reshape(len(a), 10, 4).transpose(1, 0, 2).astype(np.float32)
    return tm(d["x"]), d["y"], tm(d["x_test"]), d["y_test"]

def main():
    fast = os.environ.get("SNN_FAST") == "1"
    rng = np.random.default_rng(0)
    H, steps, batch, lr = (32, 60, 100, 1e-2) if fast else (64, 600, 100, 1e-2)
    params = {"W": 0.5 * rng.standard_normal((4, H)), "Wo": rng.standard_normal((H, 10)) / np.sqrt(H),
              "bo": np.zeros(10)}
    xtr, ytr, xte, yte = load_data(1000 if fast else 5000)
    small = {"W": params["W"][:, :5], "Wo": params["Wo"][:5], "bo": params["bo"]}
    errors = gradcheck(small, xtr[:, :3], ytr[:3])  # 5 neurons, 3 sequences
    print("gradient check (frozen twin, rel. error):", ", ".join(f"{k} {e:.1e}" for k, e in errors.items()),
          "ok" if max(errors.values()) < 1e-7 else "FAIL")
    params = {k: v.astype(np.float32) for k, v in params.items()}  # train in float32
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    losses = []
    for it in range(1, steps + 1):
        idx = rng.integers(0, xtr.shape[1], batch)
        logits, cache = forward(params, xtr[:, idx])
        loss, dlogits = cross_entropy(logits, ytr[idx])
        losses.append(loss)
        grads = backward(dlogits, cache, params)
        for k in params:                    # Adam
            m[k] = 0.9 * m[k] + 0.1 * grads[k]
            v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
            params[k] -= lr * m[k] / (1 - 0.9 ** it) / (np.sqrt(v[k] / (1 - 0.999 ** it)) + 1e-8)
        if it % (steps // 6) == 0:
            print(f"step {it:4d}  mean loss of the last {len(losses)} batches {np.mean(losses):.3f}")
            losses = []
    acc = (forward(params, xte)[0].argmax(1) == yte).mean()
    print(f"test accuracy {acc:.1%} (chance 10%)")
    return errors, acc

if __name__ == "__main__":
    main()
