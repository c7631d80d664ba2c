"""SCIM filters: parsed into a small tuple tree, then compiled to SQL (or matched in memory).

scim2-filter-parser parses; the tree is `(op, path, value)` for comparisons, `("pr", path)`,
`("and"|"or", a, b)`, `("not", a)` and `("filter", parent, a)` for value paths such as
`emails[type eq "work"]`. Quirks of the parser handled here: literals and quoted strings share
one token (marked on the way in), and `and`/`or` share one precedence, so mixing them without
parentheses is refused rather than silently evaluated against RFC 7644.

`translate` is the one compiler: it folds a tree with the leaf translation of a resource type.
Users' `userName eq` / `emails.value eq` become blind-index look-ups (nothing is decrypted to
search); the virtual admins group, which has no row, is matched in memory by the same fold.
"""
from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple, TypeVar

import sqlalchemy as sa
from scim2_filter_parser import ast as scim_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError

from privacy_saas.processor.scim import discovery as d
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users import groups as groups_service
from privacy_saas.processor.users import identity
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser, RegisteredUserEmail, UserGroup, UserGroupMember

#: Longest filter accepted: IdPs send short ones, and the parser is recursive.
MAX_FILTER_LENGTH = 1000
_LITERALS = {"true": True, "false": False, "null": None}
#: `attribute eq word`, the value unquoted and not a number the parser read as one (a GUID may start
#: with a digit: `externalId eq 0a21f0f2-8d2a-...`).
_BARE_EQ = re.compile(r"\s*([A-Za-z][\w.$-]*)\s+(?i:eq)\s+(\w[\w.@+-]*)\s*")


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
        bare = _BARE_EQ.fullmatch(text)
        if bare is not None and bare[2].lower() not in _LITERALS:
            # Entra ID's documented `externalId eq jyoung`: one comparison with an unquoted word is that word.
            return ("eq", bare[1], bare[2])
        raise InvalidFilter(f"the filter is not valid SCIM: {exc}") from None
    if tree is None:
        raise InvalidFilter("the filter is empty")
    return _walk(tree, None)


def _path(path: scim_ast.AttrPath, ns) -> str:
    name = path.attr_name + (f".{path.sub_attr.value}" if path.sub_attr else "")
    if path.uri:
        name = f"{path.uri}:{name}"
    if ns is not None:
        name = f"{ns.attr_name}.{name}"
    return name


def _unparenthesised_mix(node: scim_ast.LogExpr, side) -> bool:
    # A parenthesised group is wrapped twice in Filter; a bare operand of the other operator once.
    return (isinstance(side, scim_ast.Filter) and not side.negated and side.namespace is None
            and isinstance(side.expr, scim_ast.LogExpr) and side.expr.op.lower() != node.op.lower())


def _walk(node, ns):
    if isinstance(node, scim_ast.Filter):
        inner = _walk(node.expr, node.namespace if node.namespace is not None else ns)
        if node.namespace is not None and ns is None:
            inner = ("filter", node.namespace.attr_name, inner)
        return ("not", inner) if node.negated else inner
    if isinstance(node, scim_ast.LogExpr):
        if _unparenthesised_mix(node, node.expr1) or _unparenthesised_mix(node, node.expr2):
            raise InvalidFilter("use parentheses when mixing 'and' and 'or'")
        return (node.op.lower(), _walk(node.expr1, ns), _walk(node.expr2, ns))
    if isinstance(node, scim_ast.AttrExpr):
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
        if isinstance(path.attr_name, scim_ast.Filter):  # emails[type eq "work"].value eq "x"
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


# --- the compiler ----------------------------------------------------------------------------

T = TypeVar("T")


class Term(NamedTuple):
    """One comparison of a filter: `pr` (presence) or `op value` on an attribute."""

    op: str
    #: The attribute as the client wrote it (for error messages).
    name: str
    #: The attribute lower-cased, without the core schema URN.
    path: str
    value: object
    #: The multi-valued attribute a value path filters inside (`emails` in `emails[type eq "work"]`).
    within: str | None


def translate(tree, leaf: Callable[[Term], T], *, core_urn: str, value_path: str,
              both: Callable[[T, T], T], either: Callable[[T, T], T], negate: Callable[[T], T],
              inside: Callable[[T], T] = lambda folded: folded) -> T:
    """Fold a filter tree into one value with `leaf` for each comparison and the given logic.

    `value_path` is the one multi-valued attribute whose value paths this resource type supports;
    `inside` wraps the fold of a value path (`emails[...]`), so all its comparisons hold for one value.
    """

    def fold(node, within: str | None):
        kind = node[0]
        if kind in ("and", "or"):
            return (both if kind == "and" else either)(fold(node[1], within), fold(node[2], within))
        if kind == "not":
            return negate(fold(node[1], within))
        if kind == "filter":
            if node[1].lower() != value_path:
                raise InvalidFilter(f"filtering inside {node[1]} is not supported")
            return inside(fold(node[2], value_path))
        value = node[2] if kind != "pr" else None
        return leaf(Term(kind, node[1], normalise_attr(node[1], core_urn), value, within))

    return fold(tree, None)


def to_sql(tree, leaf: Callable[[Term], sa.ColumnElement], *, core_urn: str, value_path: str):
    """Compile a filter tree to a WHERE clause."""
    return translate(tree, leaf, core_urn=core_urn, value_path=value_path,
                     both=sa.and_, either=sa.or_, negate=sa.not_)


def as_uuid(value) -> uuid.UUID | None:
    """Return `value` as a UUID, or None when it is not one (an unknown id, hence a 404)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidFilter("active compares with true or false")


def _as_time(value) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFilter("dates are compared with ISO 8601 date-times") from None
    if parsed.tzinfo is None:
        raise InvalidFilter("dates need a time zone (e.g. Z)")
    return parsed


_ORDER = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le, "eq": operator.eq,
          "ne": operator.ne}


def _unsupported(term: Term) -> InvalidFilter:
    return InvalidFilter(f"filtering with '{term.name} {term.op}' is not supported; personal data is encrypted, "
                         "so userName, externalId and emails.value support only eq")


# --- users -------------------------------------------------------------------------------------

def _email_rows(clause) -> sa.ColumnElement:
    """EXISTS one e-mail of the user (its blind index row) matching `clause`."""
    return sa.select(RegisteredUserEmail.user_id).where(
        RegisteredUserEmail.tenant_id == RegisteredUser.tenant_id, RegisteredUserEmail.user_id == RegisteredUser.id,
        clause).exists()


def users_where(tenant: Tenant, tree):
    """Return the WHERE clause of a user filter.

    userName, externalId and e-mail values compare through their blind indexes (eq only); a value path
    `emails[type eq "work" and value eq "x"]` holds for one e-mail, through the registered_user_emails rows.
    """

    def email_term(term: Term):
        path, op, value = term.path, term.op, term.value
        if op == "pr":
            return sa.true() if path == "emails" else {
                "emails.value": sa.true(), "emails.type": RegisteredUserEmail.type.is_not(None),
                "emails.primary": RegisteredUserEmail.primary.is_(True)}.get(path, None)
        if op != "eq":
            return None
        if path == "emails.value" and isinstance(value, str):
            return RegisteredUserEmail.value_bidx == identity.email_index(tenant, value)
        if path == "emails.type" and isinstance(value, str):
            return RegisteredUserEmail.type == value.lower()
        if path == "emails.primary" and isinstance(value, bool):
            return RegisteredUserEmail.primary.is_(value)
        return None

    def leaf(term: Term):
        path, op, value = term.path, term.op, term.value
        if path == "emails" or path.startswith("emails."):
            clause = email_term(term)
            if clause is None:
                raise _unsupported(term)
            return clause if term.within == "emails" else _email_rows(clause)
        if op == "pr":
            if path in ("username", "id", "active"):
                return sa.true()
            if path == "externalid":
                return RegisteredUser.external_id_bidx.is_not(None)
            raise _unsupported(term)
        if path == "username":
            if op != "eq" or not isinstance(value, str):
                raise _unsupported(term)
            return RegisteredUser.user_name_bidx == identity.email_index(tenant, value)
        if path == "externalid" and op in ("eq", "ne"):
            if not isinstance(value, str):
                raise InvalidFilter("externalId compares with a string")
            clause = RegisteredUser.external_id_bidx == identity.external_id_index(tenant, value)
            return clause if op == "eq" else sa.or_(sa.not_(clause), RegisteredUser.external_id_bidx.is_(None))
        if path == "active" and op in ("eq", "ne"):
            active = _as_bool(value) if op == "eq" else not _as_bool(value)
            return RegisteredUser.status == ("active" if active else "disabled")
        if path == "id" and op in ("eq", "ne"):
            wanted = as_uuid(value)
            clause = RegisteredUser.id == wanted if wanted is not None else sa.false()
            return clause if op == "eq" else sa.not_(clause)
        if path in ("meta.lastmodified", "meta.created") and op in _ORDER:
            column = RegisteredUser.updated_at if path == "meta.lastmodified" else RegisteredUser.created_at
            return _ORDER[op](column, _as_time(value))
        raise _unsupported(term)

    return translate(tree, leaf, core_urn=d.USER, value_path="emails", both=sa.and_, either=sa.or_,
                     negate=sa.not_, inside=_email_rows)


# --- groups ------------------------------------------------------------------------------------

def _has_member(user_id):
    exists = sa.select(UserGroupMember.user_id).where(
        UserGroupMember.tenant_id == UserGroup.tenant_id, UserGroupMember.group_id == UserGroup.id)
    if user_id is not None:
        exists = exists.where(UserGroupMember.user_id == user_id)
    return exists.exists()


def _group_term(term: Term) -> Term:
    """Refuse what no group filter supports, for stored and admins group alike."""
    supported = (term.op == "pr" and term.path in ("displayname", "id", "externalid", "members")
                 or term.path == "displayname" and term.op in ("eq", "ne", "sw", "co") and isinstance(term.value, str)
                 or term.path == "externalid" and term.op == "eq" and isinstance(term.value, str)
                 or term.path in ("id", "members.value", "members") and term.op == "eq")
    if not supported:
        raise InvalidFilter(f"filtering with '{term.name} {term.op}' is not supported")
    return term


_TEXT = {"eq": operator.eq, "ne": operator.ne, "sw": str.startswith, "co": operator.contains}


def groups_where(tree):
    """Return the WHERE clause of a group filter over the stored groups."""

    def leaf(term: Term):
        path, op, value = _group_term(term).path, term.op, term.value
        if op == "pr":
            if path == "externalid":
                return UserGroup.external_id.is_not(None)
            return _has_member(None) if path == "members" else sa.true()
        if path == "displayname":
            column, text = sa.func.lower(UserGroup.display_name), value.lower()
            return {"eq": column == text, "ne": column != text, "sw": column.startswith(text, autoescape=True),
                    "co": column.contains(text, autoescape=True)}[op]
        if path == "externalid":
            return UserGroup.external_id == value
        if path == "id":
            wanted = as_uuid(value)
            return UserGroup.id == wanted if wanted is not None else sa.false()
        return _has_member(as_uuid(value) or uuid.UUID(int=0))

    return to_sql(tree, leaf, core_urn=d.GROUP, value_path="members")


def admins_match(tree, admins: groups_service.AdminsGroup) -> bool:
    """Return whether the virtual admins group matches a group filter."""

    def leaf(term: Term) -> bool:
        path, op, value = _group_term(term).path, term.op, term.value
        if op == "pr":
            return path != "externalid" and (path != "members" or bool(admins.member_ids))
        if path == "displayname":
            return _TEXT[op](groups_service.ADMINS, value.lower())
        if path == "externalid":
            return False
        if path == "id":
            return as_uuid(value) == admins.id
        return as_uuid(value) in admins.member_ids

    return translate(tree, leaf, core_urn=d.GROUP, value_path="members",
                     both=lambda a, b: a and b, either=lambda a, b: a or b, negate=operator.not_)
