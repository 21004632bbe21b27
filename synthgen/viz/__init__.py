"""Pictures of datasets for people: contact sheets with boxes, layers and ignore regions
(``synthgen preview``).

Three modules, each using only those before it:

    draw     one image: the boxes to draw (``Boxes``), outlines, hatching and names on
             the scaled box edges, category colours, instance and depth maps in colour
    sheet    the layout: tiles scaled to a width, captions, cells of panels, the contact
             sheet and its legend, and the largest sheet drawn (checked before and while
             it is drawn)
    preview  what a sheet shows: images chosen from a dataset (seed, category, weather)
             and read, their captions, samples rendered from a template, label layers
"""
