"""The literature: HTTP clients for Semantic Scholar and OpenAlex and the parsed paper records.
Not agents: no model is called here. Imports ``core`` only."""
