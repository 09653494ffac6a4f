"""Files: model files and CSV tables."""
