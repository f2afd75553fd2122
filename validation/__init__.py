"""Validation of other frameworks against the library (needs PyTorch; not part of the package).

The library ``snn_from_scratch`` imports no framework. Everything that needs one lives here,
at the root of the repository, beside ``tests/`` and ``benchmarks/``:

* :mod:`validation.torch_cells` — ONE independent PyTorch autograd version of every cell
  (rnn, lstm, gru, brc, spiking_lstm, lif with its options, gated_lif v1/v2, src), written
  from the equations, with the surrogates, the multi-bit quantizer and SRC's bypass as custom
  ``torch.autograd.Function``s; the runner that loads a reference fixture
  (:mod:`snn_from_scratch.reference`) into them; and the mapping of our rnn/lstm/gru weights
  onto ``torch.nn.RNN/LSTM/GRU``. Used by ``tests/test_against_torch.py``, chapter 11 and
  ``benchmarks/bench.py``.
* :mod:`validation.snntorch_neurons` — snnTorch's ``Leaky`` and ``Synaptic`` neurons driven
  side by side with our ``lif`` configured to match.

Install the extras with ``pip install -r requirements-validation.txt``. Importing this
package itself needs nothing beyond NumPy; its modules import torch (and snnTorch) when
they are imported.
"""
