"""NumPy transcriptions of the authors' own public code (validation only).

``lotfi``      spiking LSTM of Lotfi Rezaabad & Vishwanath (2020), repo AliLotfi92/SNNLSTM:
               the shared forward and the hand-written BPTT loops of the character-level,
               MNIST and FSDD scripts, quirks included.
``ponghiran``  neurons of Ponghiran & Roy (2022), repo wponghiran/imp-snns-for-sl: the
               multi-bit quantizer with its range estimator, batch norm, the traditional
               and the gated (v1/v2) layers, forward and the gradient their autograd graph
               produces.

These modules reproduce what the published code computes (not what the papers print, not
what the library's cells do); every function cites the file and line numbers it follows.
They import NumPy only and never the library, so they can serve as independent witnesses.
"""
