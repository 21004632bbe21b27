"""Tests of synthgen.labels (synthgen/labels.py): label invariants and contrast."""
