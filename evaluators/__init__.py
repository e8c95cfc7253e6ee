"""Task plugins (one folder each) and the statistics that score hypotheses against baselines."""
