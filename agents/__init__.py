"""Proposer, critic, coder and analyst agents: a prompt file each (``prompts/``, a task folder's
``prompts/`` first) and ``ask`` with bounded retries and lenient parsing.

Agents know nothing of the graph; the graph's nodes call them and the evaluators.
"""
