"""Tests of synthgen.analysis."""
