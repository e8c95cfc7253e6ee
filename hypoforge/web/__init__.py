"""The web dashboard (``hypoforge serve``): read model, SVG charts, the app."""
