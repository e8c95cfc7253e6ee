"""The preprocessing task: a function that transforms the features before a fixed MLP."""
