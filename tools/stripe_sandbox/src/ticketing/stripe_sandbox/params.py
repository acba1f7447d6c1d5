"""Stripe's form-encoded parameters: decoding them and reading typed values from them.

The SDK flattens nested params into bracket keys (``metadata[orderId]=1``,
``payment_method_types[0]=card``, ``payment_method_data[card][token]=tok_visa``; legacy clients
send ``a[]=x``) and booleans into ``true``/``false``. ``decode_pairs`` rebuilds the tree
from the pairs of a body or a query string; ``Params`` reads typed values from one level of it
and raises Stripe's invalid_request_error wording for missing, malformed or unknown parameters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import TypeAlias

from ticketing.stripe_sandbox.errors import invalid_request

ParamValue: TypeAlias = "str | list[ParamValue] | dict[str, ParamValue]"
ParamTree: TypeAlias = dict[str, ParamValue]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500


def decode_pairs(pairs: Iterable[tuple[str, str]]) -> ParamTree:
    """Rebuild the nested params from ``(key, value)`` pairs; the last of repeated keys wins."""
    root: dict[str, object] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise invalid_request(f"Invalid parameter name: {key}", param=key)
        path = [match.group(1), *_SEGMENT.findall(match.group(2))]
        node = root
        for depth, segment in enumerate(path):
            name = segment if segment else str(len(node))  # `a[]=x` appends
            if depth == len(path) - 1:
                if isinstance(node.get(name), dict):
                    raise invalid_request(f"Invalid parameter: {key} mixes a value and a hash")
                node[name] = value
                continue
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise invalid_request(f"Invalid parameter: {key} mixes a value and a hash")
            node = child
    return {name: _finish(value) for name, value in root.items()}


def _finish(node: object) -> ParamValue:
    """Turn the hashes whose keys are all indexes (``a[0]``, ``a[1]``) into lists."""
    if isinstance(node, str):
        return node
    assert isinstance(node, dict)
    children = {name: _finish(child) for name, child in node.items()}
    if children and all(name.isdigit() for name in children):
        return [children[name] for name in sorted(children, key=int)]
    return children


class Params:
    """One level of a param tree, read with Stripe's validation wording.

    ``prefix`` is the bracketed path of this level (``payment_method_data[card]``) so that
    error messages and ``param`` name the full parameter, as Stripe does.
    """

    def __init__(self, tree: Mapping[str, ParamValue], prefix: str = "") -> None:
        self.tree: ParamTree = dict(tree)
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def __contains__(self, key: str) -> bool:
        return key in self.tree

    def check_known(self, known: Collection[str]) -> None:
        for key in self.tree:
            if key not in known:
                raise invalid_request(
                    f"Received unknown parameter: {self.name(key)}",
                    param=self.name(key),
                    code="parameter_unknown",
                )

    def require(self, key: str) -> None:
        if key not in self.tree:
            raise invalid_request(
                f"Missing required param: {self.name(key)}.",
                param=self.name(key),
                code="parameter_missing",
            )

    def string(self, key: str, *, required: bool = False) -> str | None:
        if required:
            self.require(key)
        value = self.tree.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid_request(f"Invalid string: {value}", param=self.name(key))
        if required and not value:
            raise invalid_request(
                f"You passed an empty string for '{self.name(key)}'. We assume empty values "
                "are an attempt to unset a parameter; however '"
                f"{self.name(key)}' cannot be unset. You should remove '{self.name(key)}' "
                "from your request or supply a non-empty value.",
                param=self.name(key),
            )
        return value

    def choice(self, key: str, allowed: Collection[str]) -> str | None:
        value = self.string(key)
        if value is None or value == "":
            return None
        if value not in allowed:
            options = ", ".join(sorted(allowed))
            raise invalid_request(
                f"Invalid {self.name(key)}: must be one of {options}", param=self.name(key)
            )
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        text = self.string(key, required=required)
        if text is None:
            return None
        try:
            return int(text)
        except ValueError:
            raise invalid_request(f"Invalid integer: {text}", param=self.name(key)) from None

    def boolean(self, key: str) -> bool | None:
        text = self.string(key)
        if text is None:
            return None
        if text not in ("true", "false"):
            raise invalid_request(f"Invalid boolean: {text}", param=self.name(key))
        return text == "true"

    def string_list(self, key: str) -> list[str] | None:
        value = self.tree.get(key)
        if value is None:
            return None
        if value == "":
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise invalid_request("Invalid array", param=self.name(key))
        return [item for item in value if isinstance(item, str)]

    def hash(self, key: str, *, required: bool = False) -> Params | None:
        if required:
            self.require(key)
        value = self.tree.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise invalid_request("Invalid object", param=self.name(key))
        return Params(value, self.name(key))

    def metadata(self, key: str = "metadata") -> dict[str, str]:
        """Stripe metadata: string values; an empty value unsets the key."""
        nested = self.hash(key)
        if nested is None:
            return {}
        result: dict[str, str] = {}
        for name, value in nested.tree.items():
            if not isinstance(value, str):
                raise invalid_request(
                    "Invalid metadata: metadata values must be strings", param=nested.name(name)
                )
            if len(name) > METADATA_MAX_KEY_LENGTH:
                raise invalid_request(
                    f"Invalid metadata: keys can be at most {METADATA_MAX_KEY_LENGTH} "
                    "characters long",
                    param=nested.name(name),
                )
            if len(value) > METADATA_MAX_VALUE_LENGTH:
                raise invalid_request(
                    f"Invalid metadata: values can be at most {METADATA_MAX_VALUE_LENGTH} "
                    "characters long",
                    param=nested.name(name),
                )
            if value:
                result[name] = value
        if len(result) > METADATA_MAX_KEYS:
            raise invalid_request(
                f"Invalid metadata: at most {METADATA_MAX_KEYS} keys are allowed", param=key
            )
        return result
