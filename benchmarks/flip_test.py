"""The flip test's effect on the benchmark's gain: one seed's real arm and averaged
synthetic+real arm, each scored plain and with the flip test from the same weights.

    python benchmarks/flip_test.py SEED SYNTHETIC REAL EVAL OUT [--steps 3000]
        [--average-pretrained 0.5]

Trains the arms with the calls ``synthgen benchmark --threads 1 --arms real`` and
``--arms synthetic+real --average-pretrained SHARE`` make, every other option at the
command's defaults (its plain numbers equal the command's JSON for the same seed and
inputs), and writes OUT.json: ``real``, ``real_flip``, ``averaged``, ``averaged_flip``
(car AP and AP50; "averaged" is the synthetic+real arm, averaged or not). An earlier form
of it, the same calls with its arguments written in, made the flip-test table of
benchmarks/TRANSFER.md (seeds 2 and 3, 3,000 steps, the round-two set). Each arm takes
about 25 minutes of one core at 3,000 steps.
"""
import argparse
import dataclasses
import json
import time

import torch
from arm_scripts import arguments, load

from synthgen.benchmark import train as t

args, settings = arguments(argparse.ArgumentParser())
seed, classes = int(args.seed), settings.classes
synthetic = load(args.synthetic, "synthetic", settings, args.synthetic_boxes)
real, evaluation = load(args.real, "real", settings), load(args.eval, "real", settings)
gt = t.ground_truth([item.source for item in evaluation], classes)
results: dict[str, dict[str, float | None]] = {}
started = time.perf_counter()


def scored(name: str, net: torch.nn.Module) -> None:
    for flip in (False, True):
        results[name + ("_flip" if flip else "")] = t.coco_metrics(
            gt, t.detect(net, evaluation, flip=flip), classes)["car"]
    print(name, results[name], "flip test:", results[name + "_flip"],
          f"{time.perf_counter() - started:.0f} s", flush=True)
    with open(f"{args.out}.json", "w") as handle:
        json.dump(results, handle, indent=1)


# run_seed's real arm, then its synthetic+real arm with averaged weights.
net = t.new_net(settings, seed)
t.train(net, real, settings.steps, settings, t.seeded_rng(seed, 0))
scored("real", net)
net, _ = t.synthetic_then_real(seed, synthetic, real, dataclasses.replace(
    settings, average_pretrained=args.average_pretrained))
scored("averaged", net)
