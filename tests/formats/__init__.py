"""Tests of synthgen.formats."""
