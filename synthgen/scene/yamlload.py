"""YAML as synthgen reads it: PyYAML's safe loader, but a key given twice is an error.

PyYAML keeps the last of two equal keys in a mapping without a word, so a template
that sets ``road:`` twice, or a ``--map`` file that maps ``Van`` twice, would silently
lose what the user wrote first. Here that is a ``yaml.YAMLError`` pointing at the second
key (its line and column) and naming the line of the first. Keys brought in by a YAML
merge (``<<: *base``) may still be overridden, as the YAML spec intends; a mapping merged
in is itself checked, whether it is written inline or behind an anchor.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

_MERGE_TAG = "tag:yaml.org,2002:merge"
#: A plain ``=`` key: PyYAML reads it as the string "=".
_VALUE_TAG = "tag:yaml.org,2002:value"


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with the same key twice."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        # Mappings already checked: flattening a merge rewrites a mapping in place (its
        # merged keys put before its own), after which an override looks like a repeat.
        self._checked: set[yaml.MappingNode] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Called for every mapping before it is built and, recursively, for every
        # mapping it merges, each before it is rewritten: the keys as written.
        if node not in self._checked:
            self._checked.add(node)
            self._refuse_repeated_keys(node)
        super().flatten_mapping(node)

    def _refuse_repeated_keys(self, node: yaml.MappingNode) -> None:
        first_seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = (key_node.value if key_node.tag == _VALUE_TAG
                   else self.construct_object(key_node, deep=True))
            try:
                earlier = first_seen.get(key)
            except TypeError:  # an unhashable key: construct_mapping reports it
                return
            if earlier is None:
                first_seen[key] = key_node
            else:  # an equal key before it (nodes are not compared: *k is &k's node)
                raise ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"key {key!r} is given twice (first on line "
                    f"{earlier.start_mark.line + 1}); keep one", key_node.start_mark)


def load_yaml(text: str) -> Any:
    """Parse one YAML document like ``yaml.safe_load``, refusing repeated keys.

    Raises:
        yaml.YAMLError: The text is not valid YAML, or a mapping repeats a key.
    """
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader: builds no objects
    except RecursionError:  # PyYAML builds nested values recursively
        raise yaml.YAMLError("lists or mappings are nested too deeply") from None
