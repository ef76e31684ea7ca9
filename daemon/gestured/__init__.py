"""gestured: a hand-gesture daemon for small Linux boxes."""

__version__ = "0.1.0"
