"""The imugait version (one place: ``pyproject.toml`` reads it, every layer may import it)."""

__version__ = "0.2.0"
