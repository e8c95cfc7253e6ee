"""The vocabulary every room shares: typed records (a hypothesis's row, an evaluation's report),
errors, settings, text cleaning and the number grammar. Imports no other project module."""
