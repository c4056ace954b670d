"""Data layer: file readers, sliding windows, padding of variable-length sequences."""
