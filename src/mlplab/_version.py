"""The package version, one place for the face, the CLI, model files and checkpoints."""

__version__ = "0.1.0"
