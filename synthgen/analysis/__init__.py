"""Measuring datasets: statistics, the gap between a synthetic and a real set, and
templates fitted to a real set.

- :mod:`~synthgen.analysis.measure`: what one set holds, measured from its labels and a
  sample of its image files (``synthgen stats``);
- :mod:`~synthgen.analysis.distances`: how far a synthetic set's measurements lie from a
  real set's (``synthgen compare``);
- :mod:`~synthgen.analysis.wording`: what those numbers say, in words (which way the
  synthetic set differs);
- :mod:`~synthgen.analysis.report`: those as text, JSON and HTML reports;
- :mod:`~synthgen.analysis.fit`: a scene template whose statistics follow a real set
  (``synthgen fit``).
"""
