"""``synthgen generate`` end to end: many images rendered by worker processes onto disk,
resumable, sharded and merged back.

- :mod:`~synthgen.generate.folder`: a run's output folder: its files' names, manifest,
  image digests and shards, without the renderer (``merge`` loads no more);
- :mod:`~synthgen.generate.images`: sample, render, label and write one image (what the
  worker processes run; the only module here that loads the renderer);
- :mod:`~synthgen.generate.pipeline`: the run's life in its folder: fresh, ``--resume``
  and ``--extend``;
- :mod:`~synthgen.generate.runstate`: what ``--resume`` and ``--extend`` find in a folder
  (another run refused with its differences), and a folder taken up again: a finished
  one reopened, an interrupted one's valid records kept;
- :mod:`~synthgen.generate.workers`: worker processes mapping over image indices, in
  order, always stoppable;
- :mod:`~synthgen.generate.merge`: shards of one run back into one folder.
"""
