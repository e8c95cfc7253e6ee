"""The paper: a grounded LaTeX write-up of a campaign (``hypoforge paper``)."""
