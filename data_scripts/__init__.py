"""Download scripts for the real data sets (see README.md here)."""
