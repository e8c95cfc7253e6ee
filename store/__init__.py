"""The campaign store: the ledger (SQLite, exactly-once results, rows, events) and the steering
that users write into it. Below the graph, above the agents; imports ``core`` and ``evaluators``."""
