"""CloudEvents 1.0.2 attribute rules: the types of the envelope's attributes and their checks.

The CloudEvents type system, as the JSON format carries it: a *String* is any Unicode text
without control characters (U+0000-U+001F, U+007F-U+009F), surrogates or noncharacters; a
*URI-reference* and a *URI* follow RFC 3986 (a URI has a scheme); an *Integer* is 32-bit signed;
*Boolean*, *Binary*, *Timestamp* travel as JSON booleans and strings. Extension attribute names
are lowercase ASCII letters and digits, and an extension's value is a string, a boolean or an
integer. `data` must be JSON: NaN and Infinity are not.

Patterns here are written once and used both by pydantic (Rust regex) and by Python's `re`, so
the model and the envelope's fast path cannot disagree.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import StringConstraints, ValidationError
from pydantic_core import to_jsonable_python

from soorma_common.errors import InvalidEventTypeError
from soorma_common.naming import EVENT_TYPE_PATTERN, check_event_type

_NONCHARACTERS = "\\uFDD0-\\uFDEF\\uFFFE\\uFFFF" + "".join(
    f"\\U{plane:04X}FFFE\\U{plane:04X}FFFF" for plane in range(1, 17)
)
#: Characters a CloudEvents String may not hold (C0 and C1 controls, noncharacters). Lone
#: surrogates cannot reach pydantic's Rust validator at all: it refuses them as bad Unicode.
FORBIDDEN_CHARACTERS = "\\u0000-\\u001F\\u007F-\\u009F" + _NONCHARACTERS
STRING_PATTERN = f"^[^{FORBIDDEN_CHARACTERS}]*$"
_URI_CHARACTERS = r"A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-"
#: RFC 3986 URI-reference (its character set; `source`).
URI_REFERENCE_PATTERN = f"^[{_URI_CHARACTERS}]+$"
#: RFC 3986 URI with a scheme (`dataschema`).
ABSOLUTE_URI_PATTERN = f"^[A-Za-z][A-Za-z0-9+.-]*:[{_URI_CHARACTERS}]*$"
#: RFC 2046 media type, `type/subtype` with optional parameters (`datacontenttype`).
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+( *;[ -~]*)?$"
#: A CloudEvents attribute name (and so every extension's wire name).
ATTRIBUTE_NAME_PATTERN = r"^[a-z0-9]+$"

_FORBIDDEN = re.compile(f"[{FORBIDDEN_CHARACTERS}\\uD800-\\uDFFF]")
_ATTRIBUTE_NAME = re.compile(ATTRIBUTE_NAME_PATTERN[1:-1])
_INT32 = range(-(2**31), 2**31)

#: A non-empty CloudEvents String (`id`, `subject`, Soorma's string extensions).
CloudEventsString = Annotated[str, StringConstraints(min_length=1, pattern=STRING_PATTERN)]
#: A non-empty RFC 3986 URI-reference.
UriReference = Annotated[str, StringConstraints(pattern=URI_REFERENCE_PATTERN)]
#: An RFC 3986 URI with a scheme.
AbsoluteUri = Annotated[str, StringConstraints(pattern=ABSOLUTE_URI_PATTERN)]
#: An RFC 2046 media type.
MediaType = Annotated[str, StringConstraints(pattern=MEDIA_TYPE_PATTERN)]
#: An event type (`naming.check_event_type`'s rule).
EventTypeName = Annotated[str, StringConstraints(pattern=EVENT_TYPE_PATTERN)]

#: What each pattern-checked attribute must be, by Python and wire name, for error messages.
PATTERN_RULES: dict[str, str] = {
    "source": (
        "a URI-reference (RFC 3986): ASCII letters, digits and -._~:/?#[]@!$&'()*+,;=% with no "
        "white space, e.g. soorma.<agent> or https://shop.example/orders"
    ),
    "dataschema": "an absolute URI (RFC 3986) with a scheme, e.g. https://example.com/order.json",
    "datacontenttype": "a media type (RFC 2046), e.g. application/json",
}
STRING_RULE = (
    "a CloudEvents String: no control characters (U+0000-U+001F, U+007F-U+009F), surrogates or "
    "Unicode noncharacters"
)


def is_cloudevents_string(value: str) -> bool:
    """Whether `value` is a valid CloudEvents String (it may be empty)."""
    return value.isprintable() or _FORBIDDEN.search(value) is None


def extension_problem(name: str, value: Any) -> str | None:
    """What is wrong with an extension attribute read from the wire, or None if it is valid."""
    if _ATTRIBUTE_NAME.fullmatch(name) is None or name == "data":
        return (
            f"{name[:40]!r} is not a CloudEvents attribute name (lowercase ASCII letters and "
            "digits only, and not 'data')"
        )
    if type(value) is str:
        return None if is_cloudevents_string(value) else f"{name}: must be {STRING_RULE}"
    if type(value) is bool or (type(value) is int and value in _INT32):
        return None
    return (
        f"{name}: an extension's value must be a string, a boolean or a 32-bit integer, "
        f"got {type(value).__name__} {repr(value)[:60]}"
    )


_PLAIN = frozenset({str, int, bool, type(None)})
_OK, _NON_FINITE, _NOT_PLAIN = 0, 1, 2


def _scan(data: Any) -> int:
    """`_OK`, `_NON_FINITE` (NaN or ±inf found) or `_NOT_PLAIN` (a value JSON cannot hold as
    it is: it must be converted first)."""
    plain = _PLAIN
    kind = type(data)
    if kind is dict:  # the common payload, a flat object: checked in C, no stack
        if plain.issuperset(map(type, data.values())):
            return _OK
    elif kind in plain:
        return _OK
    stack = [data]
    pop, extend = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind in plain:
            continue
        if kind is dict:
            extend(value.values())
        elif kind is list:
            extend(value)
        elif kind is float:
            if value - value != 0.0:  # NaN - NaN and inf - inf are NaN
                return _NON_FINITE
        else:
            return _NOT_PLAIN
    return _OK


def is_plain_json(data: Any) -> bool:
    """Whether `data` is made of dicts, lists, str, int, finite float, bool and None only."""
    return _scan(data) == _OK


def is_flat_json_object(data: Any) -> bool:
    """Whether `data` is a dict of text keys and str, int, bool or None values: JSON as it is
    (no conversion, no float to check)."""
    return (
        type(data) is dict
        and _PLAIN.issuperset(map(type, data.values()))
        and all(type(key) is str for key in data)
    )


def has_non_finite_float(data: Any) -> bool:
    """Whether JSON-ready `data` (dicts, lists, str, int, float, bool, None) holds NaN or ±inf."""
    return _scan(data) == _NON_FINITE


def check_json_data(data: Any) -> None:
    """Raise `ValueError` unless `data` can be written as JSON.

    Values that are not plain JSON (models, datetimes, UUIDs, tuples...) are converted as the
    envelope writes them; what cannot be converted, or holds NaN or Infinity, is refused.
    """
    found = _scan(data)
    if found == _NOT_PLAIN:
        try:
            data = to_jsonable_python(data)
        except ValueError as exc:  # pydantic's serialization error, bad UTF-8 bytes
            raise ValueError(f"cannot be written as JSON ({str(exc)[:160]})") from None
        found = _scan(data)
    if found == _NON_FINITE:
        raise ValueError(
            f"holds {_first_non_finite(data)!r}: NaN and Infinity are not JSON; send null "
            "or a string instead"
        )


def _first_non_finite(data: Any) -> float:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, float) and not math.isfinite(value):
            return value
    return math.nan


_EVENT_TYPE_FIELDS = frozenset({"type", "response_event", "responseevent"})


def _message(where: str, error: Any) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "string_pattern_mismatch" and where in _EVENT_TYPE_FIELDS:
        try:
            check_event_type(value)
        except InvalidEventTypeError as exc:
            return str(exc)
    if kind == "string_pattern_mismatch":
        return f"must be {PATTERN_RULES.get(where, STRING_RULE)}"
    if kind == "string_too_short":
        return "must not be empty (leave the attribute out instead)"
    if kind == "string_unicode":
        return "must be valid Unicode text (no lone surrogates)"
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


def describe_validation_error(exc: ValidationError, event_id: Any) -> str:
    """One message for all of pydantic's errors about an envelope, each naming its attribute
    and saying what the attribute must be."""
    parts = []
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else "envelope"
        shown = repr(error.get("input"))[:80]
        message = _message(where, error)
        if where == "envelope":  # the extension checks: the message names the attribute
            parts.append(message)
        elif message.startswith("invalid event type"):  # names the value already
            parts.append(f"{where}: {message}")
        else:
            parts.append(f"{where}: {message} (got {shown})")
    return f"invalid envelope {event_id or '<no id>'!r}: " + "; ".join(parts)
