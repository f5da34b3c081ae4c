"""sedrepro: rebuild the tables and figures of sound event detection papers from raw audio."""

__version__ = "0.1.0"
