"""The task kit: what sandboxed tasks share and no task owns.

- ``budgets``: the ladder's rungs (``Budget``, ``get_budget``).
- ``splits``: ``Split`` (one (dataset, seed) cell's arrays; test labels stay on the host),
  ``SplitSets`` (a task's selection, confirmation and hard sets), ``cell``.
- ``datasets``: the tabular datasets and their split builders, drawn from the secret
  (activation uses them as they are; preprocess and regularizer map them).
- ``secrets``: the installation's data secret and the seeds derived from it.
- ``files``: ``TaskFiles`` (runner, baselines, extra code, harness version).
- ``jobs``: attempt folders, data files, the checks a job was given.
- ``scoring``: ``Scorer`` (predictions -> per-cell scores), ``LogitsAccuracy`` (the default).
- ``baselines``: the baseline cache. ``winrate``: win rate and its bootstrap interval.
- ``sandboxed``: ``SandboxedEvaluator``, assembled from the parts above.
"""
