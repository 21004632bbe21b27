"""Datasets as a team keeps them: imported from real sets, cut out of, mixed, compared
(checking a COCO folder is :mod:`synthgen.formats.validate`).

- :mod:`~synthgen.datasets.realsets`: real sets (COCO, KITTI's own layout) imported
  under synthgen's classes (``synthgen real import``), or read as labelled objects
  (:func:`~synthgen.datasets.realsets.read_real_set`, for ``synthgen fit`` and
  ``--sprites``);
- :mod:`~synthgen.datasets.cutouts`: the bank of real objects ``generate --sprites`` pastes,
  chosen in and cut out of a real set's photos;
- :mod:`~synthgen.datasets.mix`: the hybrid splits: synthetic plus real train, real-only
  val and test (``synthgen mix``);
- :mod:`~synthgen.datasets.diff`: two versions of a dataset folder compared
  (``synthgen diff``).
"""
