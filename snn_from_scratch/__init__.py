"""snn_from_scratch: back-propagation through time for spiking recurrent networks, by hand.

A pure-NumPy reference implementation of three papers' spiking recurrent cells —
the spiking LSTM of Lotfi Rezaabad & Vishwanath (2020), the LIF neurons with (gated)
synaptic currents and multi-bit outputs of Ponghiran & Roy (2022), and the Spiking
Recurrent Cell of De Geeter, Ernst & Drion (2023) — each with a hand-derived backward
pass proven by finite differences. See README.md and the chapters.
"""
__version__ = "0.2.0"

from . import cells, gradcheck, surrogates  # noqa: E402,F401
