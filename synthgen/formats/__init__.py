"""Dataset files in and out: COCO read, checked and written, exports to other trainers'
layouts.

- :mod:`~synthgen.formats.dataset`: read a COCO dataset folder or file whole, refused at
  the first entry lacking what every reader indexes by, and what is known of its entries
  (an image path stays in its folder; an image was rendered);
- :mod:`~synthgen.formats.validate`: is a COCO file sound, and its images what it says
  (``synthgen validate``; ``mix``, ``real import`` and ``export`` check with it);
- :mod:`~synthgen.formats.coco`: write COCO records and files (streamed), and read such a
  file back one entry at a time;
- :mod:`~synthgen.formats.export`: a synthgen folder as YOLO or KITTI files;
- :mod:`~synthgen.formats.boxes`: the box type every stage holds boxes in, and its
  conversions to and from COCO's ``[x, y, w, h]`` (it imports nothing of synthgen, so
  the renderer and the labels may use it too);
- :mod:`~synthgen.formats.manifest`: the manifest's file names and keys, the kinds of set
  a folder holds and how its manifest says which (it imports nothing of synthgen but its
  version, so storage's output folders may use it too).

A COCO file is read in one of three ways, each for a reason: ``load_dataset`` for every
command that uses a dataset (it stops at the first problem, one ``Error:`` line);
``validate_path``, which never stops and reports an unreadable path as a finding, named
as given; and ``stream_top_level`` where a run's file may be larger than memory
(``merge``, ``generate`` reopening a finished folder). All three open only regular files.
"""
