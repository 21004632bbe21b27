"""``synthgen benchmark``: does a synthetic set help a detector on real images?

The measurement behind synthgen's reason to exist. One small detector architecture
(:mod:`synthgen.benchmark.model`, CenterNet-style, trained from scratch: no pretrained
weights, nothing downloaded) is trained three ways with the same number of steps and
evaluated with COCOeval on a real evaluation set:

``real``
    the real fine-tune set alone;
``synthetic``
    the synthetic set(s) alone;
``synthetic+real``
    the first ``pretrain_fraction`` of the ``synthetic`` arm's steps (the very same
    weights: the synthetic arm is snapshotted there), then the rest of the steps on the
    real set, with a learning-rate schedule of their own peaking at ``finetune_lr``
    (by default ``lr``) and, with ``finetune_synthetic``, batches that share of which
    are synthetic; with ``average_pretrained``, pre-trained on a schedule of its own
    instead and ended by averaging its weights with the pre-trained ones.

Modules, data flowing one way:

- :mod:`~synthgen.benchmark.data`: read synthetic and real sets (synthgen folders, any
  COCO file, KITTI's own layout) into images scaled once for training, with boxes,
  classes and ignore regions; refuse an evaluation image that is also a training image;
- :mod:`~synthgen.benchmark.model`: the detector, its targets, losses and decoding
  (needs torch, the ``bench`` extra);
- :mod:`~synthgen.benchmark.train`: training, evaluation (pycocotools) and the arms;
- :mod:`~synthgen.benchmark.report`: the terminal table, the JSON and the HTML report;
- :mod:`~synthgen.benchmark.pseudo`: ``synthgen real pseudo-label``, the same detector
  trained as one arm and run on unlabelled frames, its detections written as a real set.

Every random value of a run (batch order, augmentation) comes from ``numpy.random``
Generators seeded from ``(seed, arm)``, and torch's from ``seed``: the same inputs,
options, seed and number of threads give the same numbers.
"""
