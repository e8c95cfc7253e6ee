"""The diffusion2d task: SEARCH/REPLACE edits to a small DDPM training script (see train.py)."""
