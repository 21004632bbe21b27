"""Tests of synthgen.benchmark."""
