"""Dataset files in and out: COCO read and written, exports to other trainers' layouts.

- :mod:`~synthgen.formats.dataset`: read a COCO dataset folder or file;
- :mod:`~synthgen.formats.coco`: write COCO records and files (streamed);
- :mod:`~synthgen.formats.export`: a synthgen folder as YOLO or KITTI files.
"""
