"""Checks for the fields of the chapter's JSON bodies. Every failure is a ``BadInput`` that names
the field, so a client sees "title: at most 200 characters", never a 500. (Reading the body
itself, and query strings, is ``lab_project.params``' job, shared by every app.)

Hand-written on purpose (rather than a form or a schema library): each rule guards against a
specific way bad input would otherwise reach the database and fail there.
"""

from __future__ import annotations

from typing import Any

from lab_project.async_orm.json_api import MAX_ID
from lab_project.params import BadInput
from lab_project.params import json_object as json_object  # re-exported: other apps' views import it from here


def text(data: dict, name: str, *, max_length: int, required: bool, allow_blank: bool = False) -> str | None:
    """A string field, stripped; ``None`` when absent and not required."""
    if name not in data:
        if required:
            raise BadInput(name, "required")
        return None
    value = data[name]
    if not isinstance(value, str):
        raise BadInput(name, f"must be a string, got {_json_type(value)}")
    value = value.strip()
    if not value and not allow_blank:
        raise BadInput(name, "must not be empty")
    if len(value) > max_length:
        raise BadInput(name, f"at most {max_length} characters (got {len(value)})")
    if "\x00" in value:
        raise BadInput(name, "must not contain NUL characters")  # PostgreSQL refuses them
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800" passes json.loads
        raise BadInput(name, "must be valid Unicode text") from None
    return value


def object_id(data: dict, name: str, *, required: bool) -> int | None:
    """A positive integer id (booleans are refused even though Python counts them as ints)."""
    if name not in data:
        if required:
            raise BadInput(name, "required")
        return None
    value = data[name]
    if type(value) is not int:
        raise BadInput(name, f"must be an integer id, got {_json_type(value)}")
    if not 1 <= value <= MAX_ID:
        raise BadInput(name, f"must be between 1 and {MAX_ID}")
    return value


def whole_number(data: dict, name: str, *, default: int, low: int, high: int) -> int:
    value = data.get(name, default)
    if type(value) is not int:
        raise BadInput(name, f"must be an integer, got {_json_type(value)}")
    if not low <= value <= high:
        raise BadInput(name, f"must be between {low} and {high}")
    return value


def seconds(data: dict, name: str, *, default: float, high: float) -> float:
    value = data.get(name, default)
    if type(value) not in (int, float):
        raise BadInput(name, f"must be a number of seconds, got {_json_type(value)}")
    if not 0 <= value <= high:  # also refuses NaN, which compares false both ways
        raise BadInput(name, f"must be between 0 and {high}")
    return float(value)


def tag_names(data: dict, name: str = "tags", *, max_tags: int = 10) -> list[str] | None:
    """A list of tag names, duplicates removed with order kept; ``None`` when absent."""
    if name not in data:
        return None
    value = data[name]
    if not isinstance(value, list):
        raise BadInput(name, f"must be a list of strings, got {_json_type(value)}")
    if len(value) > max_tags:
        raise BadInput(name, f"at most {max_tags} tags (got {len(value)})")
    names = [text({name: item}, name, max_length=40, required=True) for item in value]
    return list(dict.fromkeys(names))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
