"""The grokking task: SEARCH/REPLACE edits to a small training script (see train.py)."""
