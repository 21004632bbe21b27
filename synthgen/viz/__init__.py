"""Pictures of datasets for people: contact sheets with boxes, layers and ignore regions
(``synthgen preview``).
"""
