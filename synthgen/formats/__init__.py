"""Dataset files in and out: COCO read, checked and written, exports to other trainers'
layouts.

- :mod:`~synthgen.formats.dataset`: read a COCO dataset folder or file;
- :mod:`~synthgen.formats.validate`: is a COCO file sound, and its images what it says
  (``synthgen validate``; ``mix``, ``real import`` and ``export`` check with it);
- :mod:`~synthgen.formats.coco`: write COCO records and files (streamed);
- :mod:`~synthgen.formats.export`: a synthgen folder as YOLO or KITTI files.
"""
