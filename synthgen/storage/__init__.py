"""Files on disk: atomic writes, locks and unfinished-folder marks, contained reads, image
decoding.

- :mod:`~synthgen.storage.files`: atomic writes, deterministic JSON, output folders,
  regular-file reads;
- :mod:`~synthgen.storage.images`: image files decoded in the frame their labels use.
"""
