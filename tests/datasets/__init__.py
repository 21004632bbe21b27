"""Tests of synthgen.datasets."""
