"""Proposer, critic, coder and analyst agents (not built yet: they arrive with the campaign loop).

Agents will know nothing of the graph; they call the evaluators only through the graph's nodes.
"""
