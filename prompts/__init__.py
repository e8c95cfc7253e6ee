"""Prompt files of the agents (``*.md.j2``), rendered by ``agents.prompting``; no text in code."""
