"""Tests of synthgen.viz."""
