"""The JSON walks shared by the front door, the registry's definitions and the model-answer
checks: depth and UTF-8, against straightforward references."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from soorma_common.json_values import first_non_utf8, nests_deeper_than

TEXT = st.text(alphabet=st.characters(codec=None), max_size=6)  # lone surrogates included
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=20,
)


def depth(value: Any) -> int:
    if isinstance(value, dict | list):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max(map(depth, children), default=0)
    return 0


@given(JSON, st.integers(min_value=0, max_value=6))
def test_nesting_is_measured_as_a_recursive_walk_would(value: Any, limit: int) -> None:
    assert nests_deeper_than(value, limit) == (depth(value) > limit)


@given(JSON)
def test_text_is_refused_exactly_when_utf8_cannot_encode_it(value: Any) -> None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        encodable = True
    except UnicodeEncodeError:
        encodable = False
    assert (first_non_utf8(value) is None) == encodable


def test_a_value_nested_a_hundred_thousand_deep_is_walked_without_recursion() -> None:
    value: Any = "bottom"
    for _ in range(100_000):
        value = {"n": [value]}
    assert nests_deeper_than(value, 128) and first_non_utf8(value) is None
    assert first_non_utf8({"a": [{"b\ud800": 1}]}) == " at /a/0/b\\ud800"
