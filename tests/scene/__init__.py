"""Tests of synthgen.scene."""
