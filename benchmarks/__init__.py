"""Timing and memory benchmarks of the library against PyTorch (outside the package).

Run from the repository root: ``python -m benchmarks.bench [--fast]`` (see README.md here).
This file imports nothing, so that ``bench.py`` can pin the BLAS threads before NumPy loads.
"""
