"""Shared test settings: a non-interactive matplotlib backend and fast mode."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("SNN_FAST", "1")
