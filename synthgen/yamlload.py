"""YAML as synthgen reads it: PyYAML's safe loader, but a key given twice is an error.

PyYAML keeps the last of two equal keys in a mapping without a word, so a template
that sets ``road:`` twice, or a ``--map`` file that maps ``Van`` twice, would silently
lose what the user wrote first. Here that is a ``yaml.YAMLError`` pointing at the second
key (its line and column) and naming the line of the first; keys brought in by a YAML
merge (``<<: *base``) may still be overridden, as the YAML spec intends.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

_MERGE_TAG = "tag:yaml.org,2002:merge"


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first_seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = first_seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the base class reports it
                    break
                if earlier is not key_node:
                    raise ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"key {key!r} is given twice (first on line "
                        f"{earlier.start_mark.line + 1}); keep one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse one YAML document like ``yaml.safe_load``, refusing repeated keys.

    Raises:
        yaml.YAMLError: The text is not valid YAML, or a mapping repeats a key.
    """
    return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: builds no objects
