"""A scene made pixels: the image, its instance id map and depth, then its look.

- :mod:`~synthgen.render.camera`, :mod:`~synthgen.render.lighting`: projection, and light
  (the illumination, and the light it gives a face);
- :mod:`~synthgen.render.shapes`, :mod:`~synthgen.render.ground`,
  :mod:`~synthgen.render.textures`: the models, the road and ground, surface detail;
- :mod:`~synthgen.render.raster`: polygons as OpenCV fills them (projected, clipped, in
  fixed point), for the road, the horizon and the shadows;
- :mod:`~synthgen.render.zbuffer`: the compiled rasterizer models, cut-outs and
  projections go through (colour, ids and depth in one pass, a per-pixel depth test);
- :mod:`~synthgen.render.painter`: scene -> :class:`~synthgen.render.painter.Layers`
  (image, instance id map, depth, per-object projections), drawing the models itself and
  calling, in order, :mod:`~synthgen.render.backdrop` (sky, ground, horizon, road, or a
  ``--backgrounds`` photo), :mod:`~synthgen.render.culling` (the models that can show),
  :mod:`~synthgen.render.ground_light` (shadows, lamp pools),
  :mod:`~synthgen.render.order` (which model goes first, for antialiased edges) and
  :mod:`~synthgen.render.projections` (each labelled object's whole projection);
- :mod:`~synthgen.render.sprites`: real cut-outs pasted in place of drawn objects
  (``--sprites``): the bank's types, how a cut-out is chosen, its outline and pixels (the
  bank is cut out of a real set by :mod:`synthgen.datasets.cutouts`);
- :mod:`~synthgen.render.backgrounds`: real photos fitted to an image
  (``--backgrounds``);
- :mod:`~synthgen.render.effects`: layers -> final image (glow, weather, sensor);
- :mod:`~synthgen.render.appearance`: a real camera's look fitted and applied
  (``--look-like``).

Takes a :class:`~synthgen.scene.model.Scene`; draws nothing at random of its own accord.
"""
