"""Measuring datasets: statistics, the gap between a synthetic and a real set, and
templates fitted to a real set.

- :mod:`~synthgen.analysis.statistics`: per-set measurements and their distances
  (``synthgen stats``, ``synthgen compare``);
- :mod:`~synthgen.analysis.report`: those as text, JSON and HTML reports;
- :mod:`~synthgen.analysis.fit`: a scene template whose statistics follow a real set
  (``synthgen fit``).
"""
