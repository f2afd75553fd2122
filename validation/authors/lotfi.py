"""The spiking LSTM as the authors' public code computes it (Lotfi Rezaabad & Vishwanath 2020).

Source: GitHub ``AliLotfi92/SNNLSTM`` at commit ``e1dd325d499c0c5c4336807d192b735ab1bd35b3``
(files ``CharLevelSpikingLSTM.py``, ``SpikingMNIST.py``, ``SpikingFSDD.py``; line numbers
below refer to that commit). ``SpikingEMNIST.py`` runs the same forward and the same
backward loop as ``SpikingMNIST.py`` (same surrogates), so :func:`backward_mnist` covers
it too. ``WordLevelSpikingLSTM.py`` is a different, partly non-spiking cell (sigmoid o,
tanh g, no unit-state threshold) and is not transcribed here.

Everything is plain NumPy, float64, time-major, with an explicit batch axis (the
character-level script runs with batch 1; its formulas are batch-agnostic).

Notation (the authors' variable names in brackets)
--------------------------------------------------
``z_t = [x_t, h_{t-1}]`` [x], the input concatenated with the previous output; each gate
has one weight matrix over ``z_t`` of shape ``(n_in + H, H)``: rows ``:n_in`` act on the
input, rows ``n_in:`` on ``h_{t-1}``. Gates (all thresholds ``theta = 0.1``)::

    f = H(z W_f + b_f - theta)   [hf, Dhf = u - theta]
    i = H(z W_i + b_i - theta)   [hi, Dhi]
    o = H(z W_o + b_o - theta)   [ho, Dho]
    g = H(z W_g + b_g - theta)   [hc, Dhc]  (the authors call g "c": wc, bc)
    c~ = f c_{t-1} + i g;  c_t = H(c~ - theta)  [c, Dc = c~ - theta];  h_t = o c_t

``H(u) = 1 if u > 0`` (``1 * (arr > theta)``). Surrogates are functions of the *signed*
distance ``u - theta`` (the ``Dif`` the authors' ``spike`` returns), never of
``|u| - |theta|`` as the paper prints.

Layout mapping to the library (docs/design.md): ``W_x (n_in, 4H)``, ``W_h (H, 4H)``,
``b (4H)``, gate blocks f, i, g, o. :func:`to_library_layout` maps
``{wf, wi, wc, wo, bf, bi, bc, bo}`` (and their gradients, same keys) onto it with
``W_x = [wf[:n_in] | wi[:n_in] | wc[:n_in] | wo[:n_in]]``,
``W_h = [wf[n_in:] | wi[n_in:] | wc[n_in:] | wo[n_in:]]``, ``b = [bf | bi | bc | bo]``;
:func:`from_library_layout` is its inverse.
"""
from __future__ import annotations

import math

import numpy as np

REPO = "AliLotfi92/SNNLSTM"
COMMIT = "e1dd325d499c0c5c4336807d192b735ab1bd35b3"
THETA = 0.1  # Char L48, MNIST L49, FSDD L39

GATE_KEYS = ("wf", "wi", "wc", "wo")
BIAS_KEYS = ("bf", "bi", "bc", "bo")


# --------------------------------------------------------------------------------------
# the scripts' surrogate functions (each written exactly as the script writes it)
# --------------------------------------------------------------------------------------
def char_deriv_spike(d):
    """Char L95-96: ``exp(-d^2/4) / sqrt(4 pi)`` (normalized Gaussian, a = 4)."""
    return (1 / np.sqrt(4 * np.pi)) * np.exp(-(d ** 2) / 4)


def char_deriv_tanhspike(d):
    """Char L98-99: ``exp(-d^2/0.3) / sqrt(0.3 pi)`` (normalized Gaussian, a = 0.3)."""
    return (1 / np.sqrt(0.3 * np.pi)) * np.exp(-(d ** 2) / 0.3)


def mnist_deriv_spike(d):
    """MNIST L98-99: ``exp(-d^2/0.3) / sqrt(0.3 pi)`` — a = 0.3, used for f, i AND o."""
    return (1 / np.sqrt(0.3 * np.pi)) * np.exp(-d ** 2 / 0.3)


def mnist_deriv_tanhspike(d):
    """MNIST L101-102: ``exp(-d^2) / sqrt(0.3 pi)`` — width 1, not normalized (peak
    1/sqrt(0.3 pi) = 1.0301, area 1/sqrt(0.3) = 1.826); used for g and for the unit-state
    threshold."""
    return (1 / np.sqrt(0.3 * np.pi)) * np.exp(-d ** 2)


def fsdd_deriv_spike(d):
    """FSDD L89-90: ``exp(-d^2/4) / sqrt(4 pi)`` (a = 4): f, i, o and the unit state."""
    return (1 / np.sqrt(4 * np.pi)) * np.exp(-(d ** 2) / 4)


def fsdd_deriv_spike2(d):
    """FSDD L92-93: ``exp(-d^2/0.3) / sqrt(0.3 pi)`` (a = 0.3): g."""
    return (1 / np.sqrt(0.3 * np.pi)) * np.exp((-d ** 2) / 0.3)


#: Which surrogate each script applies where (keys: f/i/o gates, g gate, unit state c).
SURROGATES = {
    "char": {"fio": char_deriv_spike, "g": char_deriv_tanhspike, "c": char_deriv_spike},
    "mnist": {"fio": mnist_deriv_spike, "g": mnist_deriv_tanhspike, "c": mnist_deriv_tanhspike},
    "fsdd": {"fio": fsdd_deriv_spike, "g": fsdd_deriv_spike2, "c": fsdd_deriv_spike},
}

_erf = np.frompyfunc(math.erf, 1, 1)


def _erf_arr(z):
    return np.asarray(_erf(np.asarray(z, dtype=np.float64)), dtype=np.float64)


def _gauss_primitive(a):
    return lambda d: 0.5 * (1.0 + _erf_arr(d / math.sqrt(a)))


#: Primitives of the surrogates (d/dd primitive == surrogate). NOT in the authors' code:
#: they build the smooth twin used to check the exact chain rule by finite differences.
PRIMITIVES = {
    "char": {"fio": _gauss_primitive(4.0), "g": _gauss_primitive(0.3), "c": _gauss_primitive(4.0)},
    "mnist": {"fio": _gauss_primitive(0.3),
              "g": lambda d: 0.5 * (1.0 + _erf_arr(d)) / math.sqrt(0.3),
              "c": lambda d: 0.5 * (1.0 + _erf_arr(d)) / math.sqrt(0.3)},
    "fsdd": {"fio": _gauss_primitive(4.0), "g": _gauss_primitive(0.3), "c": _gauss_primitive(4.0)},
}


# --------------------------------------------------------------------------------------
# forward (identical in the three scripts)
# --------------------------------------------------------------------------------------
def spike(arr, theta=THETA):
    """Char L88-92 (MNIST L93-96, FSDD L83-87): ``(1 * (arr > theta), arr - theta)``."""
    return (arr > theta).astype(np.float64), arr - theta


def softmax(arr):
    """Char L80-83 (MNIST L82-85, FSDD L72-75): softmax over axis 1 after clipping the
    logits to [-700, 700] (no max subtraction)."""
    c = np.clip(arr, -700, 700)
    e = np.exp(c)
    return e / np.sum(e, axis=1, keepdims=True)


def forward(x, p, theta=THETA, smooth=None):
    """``LSTM_Cell`` — Char L107-134, MNIST L136-163, FSDD L127-155 (same cell).

    x: (T, B, n_in) input (already spikes; the MNIST/FSDD scripts draw them inside
    ``LSTM_Cell``, see :func:`mnist_encode` / :func:`fsdd_encode`). p: dict with
    ``wf, wi, wc, wo`` (n_in + H, H) and ``bf, bi, bc, bo`` (H,).

    Per step (L120-127 in Char)::

        z = [x_t, h_{t-1}]
        f, Df = spike(z wf + bf); i, Di = spike(z wi + bi)
        o, Do = spike(z wo + bo); g, Dg = spike(z wc + bc)
        c, Dc = spike(f c_{t-1} + i g);  h = o c

    (the Char script also computes the per-step readout there, L128-129; here it is
    computed by the backward that needs it). ``smooth`` (not in the authors' code) is an
    optional dict of primitives (keys ``fio``, ``g``, ``c``) replacing H by a smooth
    function of ``u - theta`` — the smooth twin for finite-difference checks.

    Returns ``(caches, states)`` exactly as the authors' ``LSTM_Cell``: caches[t] =
    ``(z, f, Df, i, Di, o, Do, g, Dg, Dc)``; states[0] = zeros, states[t+1] = ``(c_t, h_t)``.
    """
    T, B, n_in = x.shape
    H = p["wf"].shape[1]

    def act(kind, arr):
        if smooth is None:
            return spike(arr, theta)
        return smooth[kind](arr - theta), arr - theta

    caches, states = [], [(np.zeros((B, H)), np.zeros((B, H)))]
    for t in range(T):
        c_prev, h_prev = states[-1]
        z = np.column_stack([x[t], h_prev])
        hf, Dhf = act("fio", z @ p["wf"] + p["bf"])
        hi, Dhi = act("fio", z @ p["wi"] + p["bi"])
        ho, Dho = act("fio", z @ p["wo"] + p["bo"])
        hc, Dhc = act("g", z @ p["wc"] + p["bc"])
        c, Dc = act("c", hf * c_prev + hi * hc)
        h = ho * c
        states.append((c, h))
        caches.append((z, hf, Dhf, hi, Dhi, ho, Dho, hc, Dhc, Dc))
    return caches, states


def mnist_encode(images, rng):
    """MNIST L141-146: Bernoulli rate code ``1 * (img > U(0,1))`` of the (B, 784) images in
    [0, 1], then row t (pixels 28t..28t+27) is the input of step t -> (28, B, 28).
    (The slice is written ``t*Time:(t+1)*Time`` with Time = 28 = the row width.)
    ``rng`` is a numpy Generator (the script uses the global ``np.random``)."""
    p = rng.uniform(0, 1, np.shape(images))
    s = (images > p).astype(np.float64)
    return np.stack([s[:, t * 28:(t + 1) * 28] for t in range(28)])


def fsdd_encode(features, rng, T=8, n_in=42):
    """FSDD L132-137: spike where ``|feature| < |N(0,1)|`` — the spike probability
    *decreases* with |feature| — then step t reads columns 42t..42t+41 -> (8, B, 42)."""
    p = rng.normal(0.0, 1, np.shape(features))
    s = (np.abs(features) < np.abs(p)).astype(np.float64)
    return np.stack([s[:, t * n_in:(t + 1) * n_in] for t in range(T)])


def _zeros_like_params(p):
    return {k: np.zeros_like(p[k]) for k in GATE_KEYS + BIAS_KEYS}


# --------------------------------------------------------------------------------------
# the three hand-written backward loops, line by line
# --------------------------------------------------------------------------------------
def backward_charlevel(x, Y, p, theta=THETA, fwd=None):
    """The BPTT loop of ``CharLevelSpikingLSTM.py`` L181-244, one training iteration.

    x: (T, B, n_in), Y: (T, B, n_out) one-hot targets of every step (next character),
    p: authors' dict incl. ``wy (H, n_out)``, ``by (n_out)``. ``fwd`` = a precomputed
    ``forward(...)`` result (e.g. the smooth twin); default: the spiking forward.
    Returns the accumulated ``dwf, dwi, dwc, dwo, dwy, dbf, dbi, dbc, dbo, dby`` (keys
    without the "d") and ``dx`` (the input rows of their ``dX``, which the script drops).

    Loop body for s = 0..T-1, t = T-1-s (L193-244), e = the script's ``dc``::

        tc = c                         # L196, BEFORE c is reassigned -> c_{t+1} (s > 0)
        c, h = states[t+1]             # L197
        dout = softmax(h wy + by) - Y_t                           # L198 (pred from L129)
        dwy += h^T dout; dby += sum dout                          # L202-203
        dh = dout wy^T + dh_next                                  # L205
        e  = dh * o_t + dc_next                                   # L206-207 ("1* dc")
        d_o = dh * tc * G4(Do)                                    # L209-210
        d_f = e * G4(Dc) * c_{t-1} * G4(Df)                       # L212-213
        d_i = e * G4(Dc) * g_t * G4(Di)                           # L215-216
        d_g = e * G4(Dc) * i_t * G03(Dg)                          # L218-219
        dwy += h^T dout; dby += sum dout                          # L221-222 (again)
        dW_k += z^T d_k; db_k += sum d_k;  dX = sum_k d_k W_k^T   # L224-241
        dc_next = f_t * e; dh_next = dX[:, n_in:]                 # L243-244

    G4 = :func:`char_deriv_spike`, G03 = :func:`char_deriv_tanhspike`.
    """
    caches, states = forward(x, p, theta) if fwd is None else fwd
    T = len(caches)
    H = p["wf"].shape[1]
    n_in = caches[0][0].shape[1] - H
    g = _zeros_like_params(p)
    dwy, dby = np.zeros_like(p["wy"]), np.zeros_like(p["by"])
    dx = np.zeros((T, caches[0][0].shape[0], n_in))
    wf, wi, wc, wo, wy, by = p["wf"], p["wi"], p["wc"], p["wo"], p["wy"], p["by"]
    deriv_spike, deriv_Tanhspike = char_deriv_spike, char_deriv_tanhspike

    c, h = states[-1]                                   # L182
    dc_next = np.zeros_like(c)                          # L184
    dh_next = np.zeros_like(h)                          # L185
    for t in range(T):                                  # L193
        xz, hf, Dhf, hi, Dhi, ho, Dho, hc, Dhc, Dc = caches[-t - 1]   # L195
        tc = c                                          # L196
        c, h = states[-t - 1]                           # L197
        pred = softmax(h @ wy + by)                     # (L128-129, cached by the script)
        dout = pred - Y[-t - 1]                         # L198
        c_prev, h_prev = states[-t - 2]                 # L200

        dwy += np.dot(h.T, dout)                        # L202
        dby += np.sum(dout, axis=0)                     # L203

        dh = np.dot(dout, wy.T) + dh_next               # L205
        dc = dh * ho                                    # L206
        dc = 1 * dc + dc_next                           # L207

        dho = dh * tc                                   # L209
        dho = dho * deriv_spike(Dho)                    # L210
        dhf = dc * deriv_spike(Dc) * c_prev             # L212
        dhf = dhf * deriv_spike(Dhf)                    # L213
        dhi = dc * deriv_spike(Dc) * hc                 # L215
        dhi = dhi * deriv_spike(Dhi)                    # L216
        dhc = dc * deriv_spike(Dc) * hi                 # L218
        dhc = dhc * deriv_Tanhspike(Dhc)                # L219

        dwy += np.dot(h.T, dout)                        # L221
        dby += np.sum(dout, axis=0)                     # L222

        g["wf"] += np.dot(xz.T, dhf); g["bf"] += np.sum(dhf, axis=0); dXf = np.dot(dhf, wf.T)
        g["wi"] += np.dot(xz.T, dhi); g["bi"] += np.sum(dhi, axis=0); dXi = np.dot(dhi, wi.T)
        g["wo"] += np.dot(xz.T, dho); g["bo"] += np.sum(dho, axis=0); dXo = np.dot(dho, wo.T)
        g["wc"] += np.dot(xz.T, dhc); g["bc"] += np.sum(dhc, axis=0); dXc = np.dot(dhc, wc.T)
        dX = dXf + dXi + dXo + dXc                      # L241
        dx[T - 1 - t] = dX[:, :n_in]

        dc_next = hf * dc                               # L243
        dh_next = dX[:, -H:]                            # L244
    g["wy"], g["by"], g["dx"] = dwy, dby, dx
    return g


def _last_step_loop(x, Y, p, theta, fwd, dc_deriv, g_deriv, fio_deriv, fsdd_local):
    # shared body of the MNIST and FSDD loops (they differ only in L199 vs L192 and in the
    # surrogates); comments give 'SpikingMNIST.py line | SpikingFSDD.py line'
    caches, states = forward(x, p, theta) if fwd is None else fwd
    T = len(caches)
    H = p["wf"].shape[1]
    n_in = caches[0][0].shape[1] - H
    g = _zeros_like_params(p)
    dx = np.zeros((T, caches[0][0].shape[0], n_in))
    wf, wi, wc, wo, wy, by = p["wf"], p["wi"], p["wc"], p["wo"], p["wy"], p["by"]

    c, h = states[-1]                                   # MNIST L177 | FSDD L167
    out = np.dot(h, wy) + by                            # L178 | L168
    pred = softmax(out)                                 # L179 | L169
    dout = pred - Y                                     # L181 | L174
    dwy = np.dot(h.T, dout)                             # L183 | L176
    dby = np.sum(dout, axis=0)                          # L184 | L177
    dc_next = np.zeros_like(c)                          # L186 | L179
    dh_next = np.zeros_like(h)                          # L187 | L180
    for t in range(T):                                  # L189 | L182
        c, h = states[-t - 1]                           # L190 | L183
        c_prev, h_prev = states[-t - 2]                 # L191 | L184
        xz, hf, Dhf, hi, Dhi, ho, Dho, hc, Dhc, Dc = caches[-t - 1]   # L193 | L186
        tc = c                                          # L194 | L187
        dh = np.dot(dout, wy.T) + dh_next               # L196 | L189
        dc = dh * ho                                    # L198 | L191
        if fsdd_local:
            dc = dc_deriv(Dc) * dc + dc_next            # FSDD L192
        else:
            dc = 1 * dc + dc_next                       # MNIST L199
        dho = dh * tc                                   # L201 | L194
        dho = dho * fio_deriv(Dho)                      # L202 | L195
        dhf = dc * dc_deriv(Dc) * c_prev                # L204 | L197
        dhf = dhf * fio_deriv(Dhf)                      # L205 | L198
        dhi = dc * dc_deriv(Dc) * hc                    # L207 | L200
        dhi = dhi * fio_deriv(Dhi)                      # L208 | L201
        dhc = dc * dc_deriv(Dc) * hi                    # L210 | L203
        dhc = dhc * g_deriv(Dhc)                        # L211 | L204
        g["wf"] += np.dot(xz.T, dhf); g["bf"] += np.sum(dhf, axis=0); dXf = np.dot(dhf, wf.T)
        g["wi"] += np.dot(xz.T, dhi); g["bi"] += np.sum(dhi, axis=0); dXi = np.dot(dhi, wi.T)
        g["wo"] += np.dot(xz.T, dho); g["bo"] += np.sum(dho, axis=0); dXo = np.dot(dho, wo.T)
        g["wc"] += np.dot(xz.T, dhc); g["bc"] += np.sum(dhc, axis=0); dXc = np.dot(dhc, wc.T)
        dX = dXf + dXi + dXo + dXc                      # L229 | L223 (accumulation above: L213-227 | L206-221)
        dx[T - 1 - t] = dX[:, :n_in]
        dc_next = hf * dc                               # L231 | L225
        dh_next = dX[:, -H:]                            # L232 | L226
    g["wy"], g["by"], g["dx"] = dwy, dby, dx
    return g


def backward_mnist(x, Y, p, theta=THETA, fwd=None):
    """The BPTT loop of ``SpikingMNIST.py`` L176-232 (identical in ``SpikingEMNIST.py``).

    x: (T, B, n_in) spikes, Y: (B, n_out) one-hot labels, loss = cross-entropy of the
    softmax readout of the LAST step only (L177-181). Returns the same keys as
    :func:`backward_charlevel`. Loop (s = 0..T-1, t = T-1-s), e = the script's ``dc``::

        dout = softmax(h_{T-1} wy + by) - Y;  dwy = h_{T-1}^T dout; dby = sum dout  # L181-184
        (c, h) = states[t+1]; tc = c     # L190, L194: the correct c_t
        dh = dout wy^T + dh_next         # L196: last-step gradient injected at EVERY step
        e  = dh * o_t + dc_next          # L198-199
        d_o = dh * c_t * A(Do)           # L201-202
        d_f = e * B(Dc) * c_{t-1} * A(Df)   # L204-205
        d_i = e * B(Dc) * g_t * A(Di)       # L207-208
        d_g = e * B(Dc) * i_t * B(Dg)       # L210-211
        dW_k += z^T d_k; db_k += sum d_k; dX = sum_k d_k W_k^T   # L213-229
        dc_next = f_t * e; dh_next = dX[:, n_in:]                 # L231-232

    A = :func:`mnist_deriv_spike` (a = 0.3 Gaussian, on f, i AND o),
    B = :func:`mnist_deriv_tanhspike` (exp(-d^2)/sqrt(0.3 pi), on g and the unit state).
    """
    return _last_step_loop(x, Y, p, theta, fwd, mnist_deriv_tanhspike,
                           mnist_deriv_tanhspike, mnist_deriv_spike, fsdd_local=False)


def backward_fsdd(x, Y, p, theta=THETA, fwd=None):
    """The BPTT loop of ``SpikingFSDD.py`` L166-226. Same as :func:`backward_mnist` except
    the surrogates and line 192::

        e  = G4(Dc) * (dh * o_t) + dc_next    # L191-192: unit-state surrogate on the local term
        d_f = e * G4(Dc) * c_{t-1} * G4(Df)   # L197-198: ... and again here (so G4(Dc)^2)
        d_i = e * G4(Dc) * g_t * G4(Di)       # L200-201
        d_g = e * G4(Dc) * i_t * G03(Dg)      # L203-204
        d_o = dh * c_t * G4(Do)               # L194-195

    G4 = :func:`fsdd_deriv_spike` (a = 4), G03 = :func:`fsdd_deriv_spike2` (a = 0.3).
    The last-step loss gradient is injected at every step (L189), as in MNIST.
    """
    return _last_step_loop(x, Y, p, theta, fwd, fsdd_deriv_spike,
                           fsdd_deriv_spike2, fsdd_deriv_spike, fsdd_local=True)


# --------------------------------------------------------------------------------------
# the same loops as recurrences with switchable quirks (not the authors' code)
# --------------------------------------------------------------------------------------
#: The quirk settings that make :func:`backward_rules` reproduce each script's cell part.
SCRIPT_RULES = {
    "char": dict(carry="authors", local_G_twice=False, o_uses_next_c=True),
    "mnist": dict(carry="authors", local_G_twice=False, o_uses_next_c=False),
    "fsdd": dict(carry="authors", local_G_twice=True, o_uses_next_c=False),
}


def backward_rules(fwd, p, dh_inject, sur, carry="authors", local_G_twice=False,
                   o_uses_next_c=False):
    """Cell part of the backward written as recurrences, each quirk a switch.

    dh_inject: (T, B, H), the gradient arriving at h_t from outside the recurrence
    (the readout). ``sur``: dict ``fio``, ``g``, ``c`` of surrogate functions. With
    ``G_t = sur['c'](Dc_t)``, ``L_t = o_t dh_t`` (times ``G_t`` again if
    ``local_G_twice``), the carried quantity e and the unit-state delta are:

    * ``carry="authors"``: ``e_t = L_t + f_{t+1} e_{t+1}``, ``delta_t = G_t e_t``
      (i.e. ``delta_t = G_t (L_t + f_{t+1} delta_{t+1} / G_{t+1})``: the factor of the
      step the carry comes from is dropped);
    * ``carry="exact"``: ``delta_t = G_t (L_t + f_{t+1} delta_{t+1})`` (chain rule);
    * ``carry="paper"``: ``delta_t = G_t L_t + f_{t+1} delta_{t+1}`` (Eq. 4 read literally).

    Gate deltas: ``d_f = delta c_{t-1} A_f``, ``d_i = delta g A_i``, ``d_g = delta i A_g``,
    ``d_o = dh c' A_o`` with ``c' = c_{t+1}`` for t < T-1 if ``o_uses_next_c`` else c_t.
    Returns the gate-weight/bias gradients (authors' keys) and ``dx``; no readout terms.
    With ``carry="exact"`` and no quirk this is the exact gradient of ``sum(dh_inject*h)``
    for the smooth twin whose primitives have derivatives ``sur``.
    """
    caches, states = fwd
    T = len(caches)
    H = p["wf"].shape[1]
    n_in = caches[0][0].shape[1] - H
    g = _zeros_like_params(p)
    dx = np.zeros((T, caches[0][0].shape[0], n_in))
    e_next = delta_next = f_next = G_next = None
    dh_next = 0.0
    for t in reversed(range(T)):
        z, f, Df, i, Di, o, Do, gg, Dg, Dc = caches[t]
        c_prev, c_t = states[t][0], states[t + 1][0]
        G = sur["c"](Dc)
        dh = dh_inject[t] + dh_next
        L = o * dh * (G if local_G_twice else 1.0)
        last = t == T - 1
        if carry == "authors":
            e = L + (0.0 if last else f_next * e_next)
            delta = G * e
        elif carry == "exact":
            e = L + (0.0 if last else f_next * G_next * e_next)
            delta = G * e
        elif carry == "paper":
            delta = G * L + (0.0 if last else f_next * delta_next)
            e = delta
        else:
            raise ValueError(carry)
        c_o = states[t + 2][0] if (o_uses_next_c and not last) else c_t
        d = {"wo": dh * c_o * sur["fio"](Do), "wf": delta * c_prev * sur["fio"](Df),
             "wi": delta * gg * sur["fio"](Di), "wc": delta * i * sur["g"](Dg)}
        dX = 0.0
        for k, bk in zip(GATE_KEYS, BIAS_KEYS):
            g[k] += z.T @ d[k]
            g[bk] += d[k].sum(0)
            dX = dX + d[k] @ p[k].T
        dx[t] = dX[:, :n_in]
        dh_next = dX[:, n_in:]
        e_next, delta_next, f_next, G_next = e, delta, f, G
    g["dx"] = dx
    return g


def backward_protocol(x, W_x, W_h, b, dy, script, theta=THETA):
    """The library's cell protocol (gradient of ``sum(dy * h)``) under one script's rules.

    x (T, B, n_in), library layout parameters, dy (T, B, H). Returns ``(dx, grads)`` with
    ``grads`` keyed ``W_x, W_h, b``. To reproduce a whole script iteration: MNIST/FSDD
    pass ``dy[t] = dout_{T-1} wy^T`` at EVERY t (their quirk), and add ``dwy = h_{T-1}^T
    dout``; the char script passes ``dy[t] = dout_t wy^T`` and adds the readout gradient
    TWICE (its quirk).
    """
    p = from_library_layout(W_x, W_h, b)
    fwd = forward(x, p, theta)
    g = backward_rules(fwd, p, dy, SURROGATES[script], **SCRIPT_RULES[script])
    return g["dx"], to_library_layout(g, x.shape[2])


# --------------------------------------------------------------------------------------
# layout mapping
# --------------------------------------------------------------------------------------
def to_library_layout(p, n_in):
    """Authors' ``{wf, wi, wc, wo}`` (n_in + H, H) + ``{bf, bi, bc, bo}`` -> library
    ``W_x (n_in, 4H)``, ``W_h (H, 4H)``, ``b (4H)``, gate blocks f, i, g(=their c), o.
    Works for gradients too (same keys)."""
    W = [p[k] for k in GATE_KEYS]
    return {"W_x": np.concatenate([w[:n_in] for w in W], axis=1),
            "W_h": np.concatenate([w[n_in:] for w in W], axis=1),
            "b": np.concatenate([p[k] for k in BIAS_KEYS])}


def from_library_layout(W_x, W_h, b):
    """Inverse of :func:`to_library_layout`."""
    H = W_h.shape[0]
    out = {}
    for j, (k, bk) in enumerate(zip(GATE_KEYS, BIAS_KEYS)):
        out[k] = np.concatenate([W_x[:, j * H:(j + 1) * H], W_h[:, j * H:(j + 1) * H]], axis=0)
        out[bk] = b[j * H:(j + 1) * H].copy()
    return out


def init_params(n_in, H, n_out, rng):
    """Initialization of all three scripts (Char L54-64, MNIST L56-66, FSDD L46-56):
    gate weights ``randn(n_in + H, H) / sqrt((n_in + H)/2)``, readout
    ``randn(H, n_out) / sqrt(H/2)`` (He normal, not the standard normal the paper states),
    zero biases."""
    n = n_in + H
    p = {k: rng.standard_normal((n, H)) / np.sqrt(n / 2) for k in GATE_KEYS}
    p["wy"] = rng.standard_normal((H, n_out)) / np.sqrt(H / 2)
    for k in BIAS_KEYS:
        p[k] = np.zeros(H)
    p["by"] = np.zeros(n_out)
    return p
