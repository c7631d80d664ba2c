"""SCIM filters: parsed by scim2-filter-parser, walked into a small tuple tree.

The tree is `(op, path, value)` for comparisons, `("pr", path)`, `("and"|"or", a, b)`,
`("not", a)` and `("filter", parent, a)` for value paths such as `emails[type eq "work"]`.
Quirks of the parser handled here: literals and quoted strings share one token (marked on
the way in), and `and`/`or` share one precedence, so mixing them without parentheses is
refused rather than silently evaluated against RFC 7644.
"""
from __future__ import annotations

from scim2_filter_parser import ast as sa
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError

#: Longest filter accepted: IdPs send short ones, and the parser is recursive.
MAX_FILTER_LENGTH = 1000
_LITERALS = {"true": True, "false": False, "null": None}


class InvalidFilter(ValueError):
    """The filter is not valid SCIM, or uses what this server does not support."""


class _Quoted(str):
    """Marks COMP_VALUE tokens so '"true"' stays a string."""


def _tokens(text: str):
    for tok in SCIMLexer().tokenize(text):
        if tok.type == "COMP_VALUE":
            tok.value = _Quoted(tok.value)
        yield tok


def parse_filter(text: str):
    """Return the filter's tuple tree, or raise InvalidFilter."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"filters are limited to {MAX_FILTER_LENGTH} characters")
    try:
        tree = SCIMParser().parse(_tokens(text))
    except (SCIMParserError, ValueError) as exc:  # ValueError: an illegal character in the lexer
        raise InvalidFilter(f"the filter is not valid SCIM: {exc}") from None
    if tree is None:
        raise InvalidFilter("the filter is empty")
    return _walk(tree, None)


def _path(path: sa.AttrPath, ns) -> str:
    name = path.attr_name + (f".{path.sub_attr.value}" if path.sub_attr else "")
    if path.uri:
        name = f"{path.uri}:{name}"
    if ns is not None:
        name = f"{ns.attr_name}.{name}"
    return name


def _unparenthesised_mix(node: sa.LogExpr, side) -> bool:
    # A parenthesised group is wrapped twice in Filter; a bare operand of the other operator once.
    return (isinstance(side, sa.Filter) and not side.negated and side.namespace is None
            and isinstance(side.expr, sa.LogExpr) and side.expr.op.lower() != node.op.lower())


def _walk(node, ns):
    if isinstance(node, sa.Filter):
        inner = _walk(node.expr, node.namespace if node.namespace is not None else ns)
        if node.namespace is not None and ns is None:
            inner = ("filter", node.namespace.attr_name, inner)
        return ("not", inner) if node.negated else inner
    if isinstance(node, sa.LogExpr):
        if _unparenthesised_mix(node, node.expr1) or _unparenthesised_mix(node, node.expr2):
            raise InvalidFilter("use parentheses when mixing 'and' and 'or'")
        return (node.op.lower(), _walk(node.expr1, ns), _walk(node.expr2, ns))
    if isinstance(node, sa.AttrExpr):
        op, value = node.value.lower(), None
        if node.comp_value is not None:
            raw = node.comp_value.value
            if isinstance(raw, _Quoted):
                value = str(raw)
            elif raw in _LITERALS:
                value = _LITERALS[raw]
            else:
                value = int(raw)
        path = node.attr_path
        if isinstance(path.attr_name, sa.Filter):  # emails[type eq "work"].value eq "x"
            value_path, base = path.attr_name, path.attr_name.namespace
            leaf = (op, f"{base.attr_name}.{base.sub_attr.value}", value)
            return ("filter", base.attr_name, ("and", _walk(value_path.expr, base), leaf))
        name = _path(path, ns)
        return ("pr", name) if op == "pr" else (op, name, value)
    raise InvalidFilter("the filter is not supported")


def normalise_attr(name: str, core_urn: str) -> str:
    """Return an attribute path lower-cased and without the core schema URN."""
    lowered = name.lower()
    prefix = core_urn.lower() + ":"
    return lowered[len(prefix):] if lowered.startswith(prefix) else lowered
