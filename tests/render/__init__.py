"""Tests of synthgen.render."""
