"""``synthgen generate`` end to end: many images rendered by worker processes onto disk,
resumable, sharded and merged back.

- :mod:`~synthgen.generate.pipeline`: sample, render, label and write each image; the
  output folder, its manifest, ``--resume`` and ``--extend``;
- :mod:`~synthgen.generate.workers`: worker processes mapping over image indices, in
  order, always stoppable;
- :mod:`~synthgen.generate.merge`: shards of one run back into one folder.
"""
