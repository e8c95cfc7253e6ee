"""hypoforge: automated ML research with a hardened sandbox and trusted scoring."""

__version__ = "0.1.0"
