"""Command-line client of the Car Marketplace API (`python -m marketplace_cli --help`)."""

__all__ = ["__version__"]
__version__ = "0.1.0"
