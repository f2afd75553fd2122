"""Turning real-valued data into spike trains.

Every encoder returns a **time-major** array ``(T, B, n)`` of spikes (0/1, or the
``dtype`` you ask for, default float32 because training runs in float32) so that it can be
fed straight to ``cell.forward``. Randomness always comes from an explicit
``numpy.random.Generator`` passed as ``rng``: two calls with generators seeded alike give
bit-identical spike trains, and nothing touches NumPy's global random state.

Two layouts come in:

* *static* inputs (an image, a feature vector) of shape ``(B, ...)`` — every trailing axis
  is flattened into the ``n`` input channels (a 28x28 image gives n = 784). The encoder
  invents the time axis: :func:`rate` (Bernoulli/Poisson rate coding) and :func:`latency`.
* *sequences* of shape ``(B, T, n)`` (batch-major, as data sets store them; a rank-2
  ``(B, T)`` array is one channel) — the time axis already exists and the encoder only
  spikes it and moves time to the front: :func:`bernoulli_sequence`, :func:`on_off`,
  :func:`delta`.

The papers' schemes
-------------------
* De Geeter, Ernst & Drion (2023), §4.1: rate coding with *gain* 0.25 — a white pixel
  spikes with probability 0.25 per step — over 200 steps; their exported model is preceded
  by 20 silent steps (``rate(x, 200, rng, gain=0.25, silent_prefix=20)``). Latency coding
  with the snnTorch RC model, tau = 10, V_th = 0.01, spike times normalized to the
  sequence and the saturated spikes removed (``latency(x, 200)`` with the defaults).
* Lotfi Rezaabad & Vishwanath (2020), §4.2-4.3: "ON- and OFF-event based values using
  [a] Poisson process, where the value of each input shows the probability that it emits a
  spike" — :func:`on_off` for a signed signal, and one Bernoulli draw per pixel and per
  row for sequential MNIST (the authors' code: ``pixel/255 > uniform``), which is
  :func:`bernoulli_sequence` on ``datasets.sequential_view(images)``.
"""
from __future__ import annotations

import numbers
from typing import Optional

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["rate", "poisson", "bernoulli_sequence", "on_off", "latency",
           "latency_times", "delta", "delay_line"]


# ----------------------------------------------------------------------------- checks
def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. "
                        f"np.random.default_rng(0)), got {type(rng).__name__}")


def _as_float_array(name, x):
    """Accept an ndarray (or nested list) of real numbers; refuse NaN/inf by name."""
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)):
            x = np.asarray(x)
        else:
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.floating)
                              or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.size and not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s)")
    return x


def _check_unit_interval(name, x):
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1] (got min {x.min():.4g}, max "
                         f"{x.max():.4g}); scale it first, e.g. images / 255")


def _check_int(name, v, minimum):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return int(v)


def _check_real(name, v, lo=None, hi=None, lo_open=False):
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {v!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi}, got {v}")
    return float(v)


def _static(name, x):
    """(B, ...) -> (B, n) float64 view used to compute probabilities/times."""
    x = _as_float_array(name, x)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (B, ...) with a batch axis first "
                         f"(rank >= 2), got shape {x.shape}; use x[None] for one sample")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}): encode at least one sample "
                         f"with at least one channel")
    return x.reshape(x.shape[0], -1)


def _sequence(name, x):
    """(B, T) or (B, T, n) -> (B, T, n)."""
    x = _as_float_array(name, x)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"{name} must be a batch-major sequence (B, T) or (B, T, n), "
                         f"got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}): encode at least one sequence "
                         f"with at least one step and channel")
    return x


# ----------------------------------------------------------------------------- rate
def rate(x: np.ndarray, T: int, rng: np.random.Generator, gain: float = 1.0, silent_prefix: int = 0,
         dtype: DTypeLike = np.float32) -> np.ndarray:
    """Bernoulli ("Poisson") rate coding of a static input.

    Each channel ``j`` of sample ``b`` spikes at every step independently with
    probability ``p = gain * x[b, j]``: the spike count over ``T`` steps is
    Binomial(T, p), so the mean rate is proportional to the input (De Geeter et al. §4.1:
    "the pixel is converted into a Poisson spike train using its value as the mean of a
    binomial distribution", gain 0.25). ``silent_prefix`` zero steps are *prepended*
    (the De Geeter export uses 20 silent steps before 200 coded ones), so the output has
    ``silent_prefix + T`` steps.

    Args:
        x: (B, ...) values in [0, 1]; trailing axes are flattened into n channels.
        T: number of coded steps (>= 1).
        rng: numpy.random.Generator (the spikes are redrawn on every call).
        gain: in (0, 1]; p = gain * x.
        silent_prefix: number of leading all-zero steps (>= 0).
        dtype: output dtype (float32 default).

    Returns:
        (silent_prefix + T, B, n) array of 0/1 in ``dtype``.
    """
    _check_rng(rng)
    x = _static("x", x)
    _check_unit_interval("x", x)
    T = _check_int("T", T, 1)
    silent_prefix = _check_int("silent_prefix", silent_prefix, 0)
    gain = _check_real("gain", gain, 0.0, 1.0, lo_open=True)
    B, n = x.shape
    p = gain * x.astype(np.float64)
    out = np.zeros((silent_prefix + T, B, n), dtype=dtype)
    # One uniform per (step, sample, channel): spike where u < p (so p = 0 never spikes
    # and p = 1 always does).
    out[silent_prefix:] = rng.random((T, B, n)) < p
    return out


poisson = rate  # the name snnTorch and the papers use for the same Bernoulli scheme


def bernoulli_sequence(x: np.ndarray, rng: np.random.Generator, gain: float = 1.0,
                       dtype: DTypeLike = np.float32) -> np.ndarray:
    """One Bernoulli spike per entry of an existing sequence: spike where ``gain*x > u``.

    This is Lotfi Rezaabad & Vishwanath's sequential MNIST input (their code: a new
    uniform draw per pixel and per pass, spike if ``pixel/255 > u``): use it on
    ``datasets.sequential_view(images)``, whose rows are the 28 time steps.

    Args:
        x: (B, T) or (B, T, n) values in [0, 1] (batch-major, as stored).
        rng: numpy.random.Generator.
        gain: in (0, 1].

    Returns:
        (T, B, n) spikes in ``dtype`` (time-major).
    """
    _check_rng(rng)
    x = _sequence("x", x)
    _check_unit_interval("x", x)
    gain = _check_real("gain", gain, 0.0, 1.0, lo_open=True)
    p = gain * np.transpose(x, (1, 0, 2)).astype(np.float64)
    return (rng.random(p.shape) < p).astype(dtype)


# ----------------------------------------------------------------------------- ON/OFF
def on_off(signal: np.ndarray, rng: np.random.Generator, gain: float = 1.0,
           dtype: DTypeLike = np.float32) -> np.ndarray:
    """ON/OFF Poisson coding of a *signed* signal into two channels per input.

    Lotfi Rezaabad & Vishwanath §4.2 (Figure 3): samples of the signal are converted "into
    ON- and OFF-event based values using [a] Poisson process, where the value of each input
    shows the probability that it emits a spike". A signed value carries its sign in *which*
    channel fires: the ON channel spikes with probability ``gain * max(s, 0)`` and the OFF
    channel with probability ``gain * max(-s, 0)``; at most one of the two is active at a
    time, so the expected difference ON - OFF equals ``gain * s``. A non-negative signal
    (such as the paper's f(x) = 0.5 sin 3x + 0.5 sin 6x + 1, scaled into [0, 1]) only uses
    the ON channel.

    Args:
        signal: (B, T) or (B, T, n) real values with ``|gain * signal| <= 1``.
        rng: numpy.random.Generator.
        gain: > 0; scales the signal into probabilities.

    Returns:
        (T, B, 2n) spikes in ``dtype``: channels ``[:n]`` are ON, ``[n:]`` are OFF.
    """
    _check_rng(rng)
    s = _sequence("signal", signal)
    gain = _check_real("gain", gain, 0.0, lo_open=True)
    p = gain * np.transpose(s, (1, 0, 2)).astype(np.float64)     # (T, B, n), signed
    if p.size and np.abs(p).max() > 1:
        raise ValueError("|gain * signal| must be <= 1 to be a spike probability (max "
                         f"{np.abs(p).max():.4g}); lower gain or rescale the signal")
    u = rng.random(p.shape)
    on = u < np.maximum(p, 0.0)
    off = u < np.maximum(-p, 0.0)
    return np.concatenate([on, off], axis=-1).astype(dtype)


# ----------------------------------------------------------------------------- latency
def latency_times(x: np.ndarray, T: int, tau: float = 10.0, threshold: float = 0.01,
                  linear: bool = True, normalize: bool = True,
                  epsilon: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """Spike times of the RC-circuit latency code (no rounding, no removal).

    The model (snnTorch's ``spikegen.latency_code``, used by De Geeter et al. §4.1): a
    current ``I = x`` charges an RC circuit with time constant ``tau`` from 0 towards I;
    the spike comes when the potential crosses ``threshold``:

    * logarithmic (exact RC): ``t = tau * ln(I / (I - V_th))``, with I clamped to
      ``V_th + epsilon`` so that inputs at or below threshold get the latest time
      ``t_max = tau * ln((V_th + epsilon) / epsilon)``;
    * linear (the first-order expansion, De Geeter's "linearized RC circuit"):
      ``t = min(tau * (1 - I), tau * (1 - V_th))`` — the paper prints it as
      ``min(-tau (I - 1), V_th)``, with the clamp written in threshold units.

    ``normalize=True`` stretches the times over the sequence, 0 .. T-1: in the linear code
    by taking ``tau = T - 1`` (snnTorch's choice: x = 1 fires at 0, x = 0 would fire at
    T-1); in the logarithmic code by dividing by ``t_max`` (snnTorch divides by the
    batch's largest time instead, which equals t_max as soon as one input is below
    threshold — always the case for MNIST — and would otherwise make an image's code depend
    on its batch-mates).

    Returns:
        (times (B, n) float64, saturated (B, n) bool) where ``saturated`` marks the inputs
        below ``threshold`` (their spike sits at the clamp and carries no information).
    """
    x = _static("x", x)
    _check_unit_interval("x", x)
    T = _check_int("T", T, 1)
    tau = _check_real("tau", tau, 0.0, lo_open=True)
    threshold = _check_real("threshold", threshold, 0.0, 1.0, lo_open=True)
    if threshold >= 1:
        raise ValueError(f"threshold must be < 1, got {threshold}")
    epsilon = _check_real("epsilon", epsilon, 0.0, lo_open=True)
    x = x.astype(np.float64)
    saturated = x < threshold
    if linear:
        if normalize:
            tau = T - 1.0
        t = np.minimum(tau * (1.0 - x), tau * (1.0 - threshold))
    else:
        xc = np.maximum(x, threshold + epsilon)
        t = tau * np.log(xc / (xc - threshold))
        if normalize:
            t_max = tau * np.log((threshold + epsilon) / epsilon)
            t = t * (T - 1.0) / t_max
    return t, saturated


def latency(x: np.ndarray, T: int, tau: float = 10.0, threshold: float = 0.01, linear: bool = True,
            normalize: bool = True, remove_last: bool = True, epsilon: float = 1e-7,
            dtype: DTypeLike = np.float32) -> np.ndarray:
    """Latency (time-to-first-spike) coding: each input spikes at most once.

    Brighter inputs spike earlier. Times come from :func:`latency_times` (RC model, defaults
    of De Geeter et al. §4.1 / Appendix A: tau = 10, V_th = 0.01, linear, normalized to
    the sequence) and are rounded to the nearest step. ``remove_last=True`` removes the
    saturated spikes — those of inputs below threshold, which all land at the clamped
    latest time (the last step of the logarithmic code): the paper's "the spikes located
    at the last timestep (i.e. the spikes whose t equals V_th) are removed", snnTorch's
    ``clip=True``. With ``normalize=False`` times beyond T-1 fall outside the window and
    are dropped (snnTorch instead clamps them to T-1 and then blanks that whole step).

    Args:
        x: (B, ...) values in [0, 1].
        T: number of steps.

    Returns:
        (T, B, n) spikes in ``dtype``, at most one per (sample, channel).
    """
    t, saturated = latency_times(x, T, tau=tau, threshold=threshold, linear=linear,
                                 normalize=normalize, epsilon=epsilon)
    B, n = t.shape
    # np.rint rounds halves to even, exactly like torch.round used by snnTorch.
    steps = np.rint(t).astype(np.int64)
    keep = steps <= T - 1
    if remove_last:
        keep &= ~saturated
    out = np.zeros((T, B, n), dtype=dtype)
    b_idx, j_idx = np.nonzero(keep)
    out[steps[b_idx, j_idx], b_idx, j_idx] = 1
    return out


# ----------------------------------------------------------------------------- delta
def delta(x: np.ndarray, threshold: float = 0.1, off_spikes: bool = False, padding: bool = False,
          dtype: DTypeLike = np.float32) -> np.ndarray:
    """Delta modulation: a spike when the signal *changes* by at least ``threshold``.

    ON spike at step t when ``x[t] - x[t-1] >= threshold``; with ``off_spikes`` an OFF
    spike (a separate channel, so that spikes stay 0/1) when ``x[t] - x[t-1] <=
    -threshold``. The reference before the first step is 0 (``padding=False``: a signal
    that starts high spikes at t = 0) or the first sample itself (``padding=True``: no
    spike at t = 0) — the same conventions as snnTorch's ``spikegen.delta``.

    Args:
        x: (B, T) or (B, T, n) real sequence (batch-major).
        threshold: > 0.

    Returns:
        (T, B, n) ON spikes, or (T, B, 2n) ``[ON, OFF]`` when ``off_spikes`` is True.
    """
    x = _sequence("x", x)
    threshold = _check_real("threshold", threshold, 0.0, lo_open=True)
    s = np.transpose(x, (1, 0, 2)).astype(np.float64)             # (T, B, n)
    ref = np.empty_like(s)
    ref[0] = s[0] if padding else 0.0
    ref[1:] = s[:-1]
    d = s - ref
    on = d >= threshold
    if not off_spikes:
        return on.astype(dtype)
    off = d <= -threshold
    return np.concatenate([on, off], axis=-1).astype(dtype)


def delay_line(x: np.ndarray, d: int, dtype: Optional[DTypeLike] = None) -> np.ndarray:
    """Synaptic delays: a tapped delay line that gives each step the last ``d`` inputs.

    ``x`` is a batch-major sequence (B, T) or (B, T, n); the result is time-major
    (T, B, n*d) with channel block k (k = 0..d-1) holding ``x[t-k]`` (zeros before the
    sequence starts): ``out[t, b, k*n + j] = x[b, t-k, j]``.

    Why: a layer whose neurons have no connections between them (``lif`` without
    ``recurrent``, ``src``) and one input value per step makes every neuron a thresholded
    copy of the same filtered signal. Fixed delays — each synapse seeing the input at a
    different lag, as axonal delays do — let one layer combine the recent past without
    recurrent weights. ``dtype`` defaults to the input's float dtype (real values pass
    through unchanged: this is a re-arrangement, not a spike code).
    """
    x = _sequence("x", x)
    d = _check_int("d", d, 1)
    B, T, n = x.shape
    out = np.zeros((T, B, n * d), dtype=x.dtype if dtype is None else dtype)
    xt = np.transpose(x, (1, 0, 2))  # (T, B, n)
    for k in range(min(d, T)):
        out[k:, :, k * n:(k + 1) * n] = xt[:T - k]
    return out
