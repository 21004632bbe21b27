"""``yamlload.load_yaml``: ``yaml.safe_load``, except that a key given twice is an error."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.scene.yamlload import load_yaml

ACCEPTED = [
    # plain nested mappings and lists of mappings
    "road: {lanes: [1, 2], markings: {dashed: true}}\nitems: [{a: 1}, {a: 2}]\n",
    # a merge, then an override of a merged key
    "a: &a {x: 1, y: 2}\nb: {<<: *a, x: 3}\n",
    # a merge of a list of mappings, then an override
    "a: &a {x: 1}\nb: &b {y: 2}\nc: {<<: [*a, *b], x: 3}\n",
    # an anchored mapping that overrides its own merge, merged again later (it is
    # rewritten in place by the first merge: still not a repeat)
    "defs:\n  b: &b {<<: {x: 1, y: 2}, x: 3}\nc: {<<: *b, y: 4}\n",
    # the same, in block style and merged from a deeper level
    "trees: &low\n  <<: {h: [1.5, 4.0]}\n  h: [2.0, 4.5]\ncamera:\n  <<: *low\n",
    # a merge inside a list item, block style
    "base: &base {w: 1, h: 2}\nitems:\n  - {<<: *base, w: 5}\n  - <<: *base\n    h: 7\n",
    # a plain '=' key (PyYAML's value tag) and a quoted one in different mappings
    "=: x\nother: {'=': y}\n",
    # the same key in two different mappings
    "a: {k: 1}\nb: {k: 2}\n",
]

REFUSED = [
    # top level
    ("a: 1\nb: 2\na: 3\n", 3, "'a' is given twice (first on line 1)"),
    # nested, block style
    ("road:\n  lanes: [1, 2]\n  lanes: [2, 3]\n", 3, "'lanes' is given twice (first on line 2)"),
    # inside a list item
    ("x:\n  - {p: 1, p: 2}\n", 2, "'p' is given twice"),
    # inside a mapping merged inline: it is never built on its own, yet checked
    ("c: {<<: {x: 1, x: 2}}\n", 1, "'x' is given twice"),
    # inside one mapping of a merged list
    ("a: &a {y: 1}\nc: {<<: [*a, {y: 1, y: 2}]}\n", 2, "'y' is given twice"),
    # inside an anchored mapping
    ("a: &a {x: 1, x: 2}\nb: *a\n", 1, "'x' is given twice"),
    # two plain '=' keys
    ("=: 1\n=: 2\n", 2, "'=' is given twice"),
    # a key repeated through an alias (both are one node: found by position)
    ("{&k x: 1, *k : 2}\n", 1, "'x' is given twice"),
    # keys YAML reads as the same Python value (safe_load would keep one of them)
    ("1: a\n1.0: b\n", 2, "given twice (first on line 1)"),
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_reads_what_safe_load_reads(text: str) -> None:
    assert load_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize(("text", "line", "message"), REFUSED)
def test_a_key_given_twice_is_an_error_at_the_second(text: str, line: int,
                                                     message: str) -> None:
    with pytest.raises(yaml.YAMLError) as info:
        load_yaml(text)
    assert message in str(info.value.problem)
    assert info.value.problem_mark.line + 1 == line


def test_nesting_too_deep_is_a_yaml_error_not_a_recursion_error() -> None:
    # yaml.safe_load raises RecursionError here, which no caller would take for bad YAML.
    with pytest.raises(yaml.YAMLError, match="nested too deeply"):
        load_yaml("x: " + "[" * 3000 + "]" * 3000 + "\n")


def test_other_errors_are_safe_loads() -> None:
    with pytest.raises(yaml.YAMLError, match="could not determine a constructor"):
        load_yaml("a: !!python/object:os.system {}\n")
    with pytest.raises(yaml.YAMLError):
        load_yaml("a: [1, 2\n")


_KEYS = st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1,
                max_size=6)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=5),
       st.sampled_from([False, True]))
def test_any_mapping_dumped_by_yaml_reads_back_the_same(document: dict, flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow)
    assert load_yaml(text) == document
