"""A tiny research task that exists only to show that a task is one folder (see task.toml)."""
