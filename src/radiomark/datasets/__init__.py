"""Importers that turn public datasets into radiomark's case layout (see :mod:`radiomark.training.data`)."""
