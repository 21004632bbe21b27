"""--calibrate-sizes on the benchmark's gain: one seed's real arm and averaged
synthetic+real arm, each scored as trained and with its sizes calibrated on the real set.

    python benchmarks/calibrate_sizes.py SEED SYNTHETIC REAL EVAL OUT [--steps 3000]
        [--average-pretrained 0.5] [--synthetic-boxes visible] [--arms real,synthetic+real]
        [--save]

Trains the arms with the calls ``synthgen benchmark --threads 1 --arms real`` and
``--arms synthetic+real --average-pretrained SHARE [--synthetic-boxes BOXES]`` make,
every other option at the
command's defaults (its plain numbers equal the command's JSON for the same seed and
inputs; the calibrated ones equal the command's with ``--calibrate-sizes``), and writes
OUT.json: per arm (``real``, ``synthetic+real``), ``plain`` and ``calibrated`` car AP
and AP50 and the ``size_bias`` removed (as the command's JSON records it). With
``--save``, the trained weights as OUT_ARM.pt. Each arm takes about 25
minutes of one core at 3,000 steps.
"""
import argparse
import dataclasses
import json
import time

import torch
from arm_scripts import arguments, load

from synthgen.benchmark import train as t

parser = argparse.ArgumentParser()
parser.add_argument("--arms", default="real,synthetic+real")
parser.add_argument("--save", action="store_true")
args, settings = arguments(parser)
seed, classes = int(args.seed), settings.classes
arms = args.arms.split(",")
synthetic = (load(args.synthetic, "synthetic", settings, args.synthetic_boxes)
             if "synthetic+real" in arms else [])
real, evaluation = load(args.real, "real", settings), load(args.eval, "real", settings)
gt = t.ground_truth([item.source for item in evaluation], classes)
results: dict[str, dict] = {}
started = time.perf_counter()


def scored(name: str, net: torch.nn.Module) -> None:
    if args.save:
        torch.save(net.state_dict(), f"{args.out}_{name}.pt")
    plain = t.coco_metrics(gt, t.detect(net, evaluation), classes)["car"]
    bias = t.calibrate_sizes(net, real)
    calibrated = t.coco_metrics(gt, t.detect(net, evaluation), classes)["car"]
    results[name] = {"plain": plain, "calibrated": calibrated,
                     "size_bias": t.bias_record(bias)}
    print(name, results[name], f"{time.perf_counter() - started:.0f} s", flush=True)
    with open(f"{args.out}.json", "w") as handle:
        json.dump(results, handle, indent=1)


# run_seed's real arm, then its synthetic+real arm with averaged weights.
if "real" in arms:
    net = t.new_net(settings, seed)
    t.train(net, real, settings.steps, settings, t.seeded_rng(seed, 0))
    scored("real", net)
if "synthetic+real" in arms:
    net, _ = t.synthetic_then_real(seed, synthetic, real, dataclasses.replace(
        settings, average_pretrained=args.average_pretrained))
    scored("synthetic+real", net)
