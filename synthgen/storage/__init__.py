"""Files on disk: atomic writes, locks and unfinished-folder marks, contained reads, image
headers and decoding.

- :mod:`~synthgen.storage.files`: atomic writes, deterministic JSON, output folders,
  regular-file reads;
- :mod:`~synthgen.storage.images`: image headers read (one policy on decompression bombs)
  and image files decoded in the frame their labels use.
"""
