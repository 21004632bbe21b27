"""Tests of synthgen.generate."""
