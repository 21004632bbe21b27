"""``synthgen fit``: a scene template fitted to a real set's scene statistics."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.analysis import fit as fitting
from synthgen.commands.options import FiniteFloatRange


@click.command(name="fit")
@click.argument("real", type=click.Path(path_type=str))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Template file to write (.yaml); use it with generate --scene OUT.")
@click.option("--base", default="urban", show_default=True,
              help="Bundled template the result extends (see `synthgen scenes`).")
@click.option("--format", "fmt", type=click.Choice(fitting.FORMATS), default="auto",
              show_default=True,
              help="Layout of REAL: KITTI (training/image_2 + label_2) or COCO; auto looks "
                   "for KITTI's folders.")
@click.option("--images", "images_dir", type=click.Path(file_okay=False, path_type=str),
              help="COCO only: folder the file_name entries are relative to.")
@click.option("--fov", type=FiniteFloatRange(30.0, 120.0), default=None,
              help="Horizontal field of view (degrees) at the recommended width; replaces "
                   "the fit (needed for sets without 3D labels).")
@click.option("--camera-height", type=FiniteFloatRange(0.5, 5.0), default=None,
              help="Camera height above the road (m); replaces the fit.")
@click.option("--only-real-classes", is_flag=True, default=False,
              help="Set classes the real set never labels to count_range [0, 0] "
                   "(default: keep the base's).")
@click.option("--calibrate", "calibrate_images", type=click.IntRange(min=0),
              default=fitting.DEFAULT_CALIBRATION_IMAGES, show_default=True,
              help="Images rendered to measure the share of placed objects synthgen "
                   "labels, which the object counts are divided by; 0 skips it.")
@click.option("--sample-images", type=click.IntRange(min=0),
              default=fitting.DEFAULT_SAMPLE_IMAGES, show_default=True,
              help="Image files read for brightness (daylight share), weather and sensor "
                   "noise; 0 skips them.")
@click.option("--weather-renders", type=click.IntRange(min=0),
              default=fitting.DEFAULT_WEATHER_RENDERS, show_default=True,
              help="Images rendered per weather kind to calibrate the weather classifier "
                   "(and sensor noise); 0 skips weather and noise.")
@click.option("--overwrite", is_flag=True, default=False, help="Replace an existing --out.")
def fit(real: str, out: Path, base: str, fmt: str, images_dir: str | None, fov: float | None,
        camera_height: float | None, only_real_classes: bool, calibrate_images: int,
        sample_images: int, weather_renders: int, overwrite: bool) -> None:
    """Fit a template to the real set REAL and write it to --out.

    REAL is a KITTI object set (training/image_2 + training/label_2) or a COCO set (a
    folder with annotations.json, or a JSON file). The template extends --base and sets
    only what was fitted: camera field of view, height, pitch and yaw; objects per image,
    distances, placements and sizes per class; time of day from image brightness;
    weather kinds and sensor noise from image measures calibrated on synthgen renders. Its
    header and the printed table say which values were measured, assumed or given, and
    the image size to generate at (--size WxH, the real images' median).

    KITTI's 3D labels give the focal length, camera height and horizon; without them,
    camera height and horizon are estimated from boxes of cars and pedestrians of
    assumed heights, and the field of view comes from --fov (else the base's is kept).
    The full method is the docstring of synthgen/analysis/fit.py.
    """
    fitting.base_path(base)  # an unknown --base is refused before any work
    fitting.check_out(out, base, Path(real), overwrite=overwrite,
                      images_dir=Path(images_dir) if images_dir is not None else None)
    result = fitting.fit_real_set(
        real, base=base, fmt=fmt, images_dir=images_dir, fov=fov, camera_height=camera_height,
        only_real_classes=only_real_classes, calibrate_images=calibrate_images,
        sample_images=sample_images, weather_renders=weather_renders, name=out.stem)
    fitting.write_template(result, out)
    click.echo(result.table())
    click.echo(f"wrote {out}; generate with: synthgen generate --scene {out} "
               f"--size {result.size[0]}x{result.size[1]} ...", err=True)
