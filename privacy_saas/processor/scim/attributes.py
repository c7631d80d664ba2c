"""The SCIM attributes this server stores, in one place: discovery publishes them, requests are checked and
canonicalised against them, PATCH paths resolve through them.

Attribute names are case-insensitive (RFC 7643 §2.1): every name a client sends is mapped to its canonical
spelling here, so `emails[type eq "other"].Value` (as Entra ID writes it) is `emails[type eq "other"].value`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

#: Longest string value kept (names have the users service's tighter limit).
MAX_TEXT = 1024
#: Most values of one multi-valued attribute.
MAX_VALUES = 20


@dataclass(frozen=True)
class Attr:
    """One attribute of a schema (RFC 7643 §7)."""

    name: str
    type: str = "string"
    multi: bool = False
    sub: tuple[Attr, ...] = ()
    mutability: str = "readWrite"
    required: bool = False
    uniqueness: str = "none"
    case_exact: bool = False
    canonical: tuple[str, ...] | None = None
    reference_types: tuple[str, ...] | None = None
    description: str = ""
    _by_name: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        self._by_name.update({s.name.lower(): s for s in self.sub})

    def child(self, name: str) -> Attr | None:
        """Return the sub-attribute called `name` (any case), or None."""
        return self._by_name.get(name.lower())

    def schema(self) -> dict:
        """Return the attribute's definition for /Schemas."""
        out = {"name": self.name, "type": self.type, "multiValued": self.multi, "description": self.description,
               "required": self.required, "caseExact": self.case_exact, "mutability": self.mutability,
               "returned": "default", "uniqueness": self.uniqueness}
        if self.sub:
            out["subAttributes"] = [s.schema() for s in self.sub]
        if self.canonical is not None:
            out["canonicalValues"] = list(self.canonical)
        if self.reference_types is not None:
            out["referenceTypes"] = list(self.reference_types)
        return out


def _multi(name: str, types: tuple[str, ...] | None, description: str, *extra: Attr) -> Attr:
    return Attr(name, "complex", multi=True, description=description, sub=(
        *extra,
        Attr("display", description="A human-readable name"),
        Attr("type", canonical=types, description="The kind of value"),
        Attr("primary", "boolean", description="The preferred value (at most one)"),
    ))


NAME = Attr("name", "complex", description="The components of the user's name", sub=(
    Attr("formatted", description="The full name"),
    Attr("familyName", description="Family name"),
    Attr("givenName", description="Given name"),
    Attr("middleName", description="Middle name(s)"),
    Attr("honorificPrefix", description="Title prefix, e.g. Ms."),
    Attr("honorificSuffix", description="Title suffix, e.g. III"),
))

#: The core User's attributes kept in the sealed profile (roles and entitlements are stored as the identity
#: provider sends them and grant nothing here: the admin role is the admins group's).
PROFILE_KEYS = ("nickName", "profileUrl", "title", "userType", "preferredLanguage", "locale", "timezone", "photos",
                "roles", "entitlements")
#: The core User's attributes kept in the sealed contact details (e-mails have their own column and indexes).
CONTACT_KEYS = ("phoneNumbers", "ims", "addresses")
#: The name parts kept in the sealed profile (given and family name have columns of their own).
PROFILE_NAME_PARTS = ("formatted", "middleName", "honorificPrefix", "honorificSuffix")

USER_ATTRS: tuple[Attr, ...] = (
    Attr("userName", required=True, uniqueness="server",
         description="Unique sign-in identifier (a UPN or an e-mail address)"),
    NAME,
    Attr("displayName", description="Name displayed to other users"),
    Attr("nickName", description="Casual name"),
    Attr("profileUrl", "reference", reference_types=("external",), description="The user's online profile"),
    Attr("title", description="Job title"),
    Attr("userType", description="Relationship to the organisation, e.g. Employee"),
    Attr("preferredLanguage", description="Preferred language (RFC 7231 Accept-Language form)"),
    Attr("locale", description="Locale, e.g. en-US"),
    Attr("timezone", description="Time zone, e.g. Europe/Berlin"),
    # Always set here (a user is active or disabled), hence required.
    Attr("active", "boolean", required=True, description="false disables the user"),
    _multi("emails", ("work", "home", "other"), "E-mail addresses; the primary one (else the work one) is the "
           "address the product mails", Attr("value", description="The address")),
    _multi("phoneNumbers", ("work", "home", "mobile", "fax", "pager", "other"), "Phone numbers",
           Attr("value", description="The number")),
    _multi("ims", ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"), "Instant messaging addresses",
           Attr("value", description="The address")),
    _multi("photos", ("photo", "thumbnail"), "URLs of photos of the user",
           Attr("value", "reference", reference_types=("external",), description="The photo's URL")),
    Attr("addresses", "complex", multi=True, description="Physical mailing addresses", sub=(
        Attr("formatted", description="The full address"),
        Attr("streetAddress", description="Street and number"),
        Attr("locality", description="City"),
        Attr("region", description="State or region"),
        Attr("postalCode", description="Postal code"),
        Attr("country", description="ISO 3166-1 alpha-2 country code"),
        Attr("type", canonical=("work", "home", "other"), description="The kind of address"),
        Attr("primary", "boolean", description="The preferred address (at most one)"),
    )),
    _multi("entitlements", None, "Entitlements, as the identity provider sends them",
           Attr("value", description="The entitlement")),
    _multi("roles", None, "Roles, as the identity provider sends them (the admin role is the admins group's)",
           Attr("value", description="The role")),
    Attr("groups", "complex", multi=True, mutability="readOnly", description="Groups the user belongs to", sub=(
        Attr("value", mutability="readOnly"),
        Attr("$ref", "reference", mutability="readOnly", reference_types=("Group",)),
        Attr("display", mutability="readOnly"),
        Attr("type", mutability="readOnly"),
    )),
)

ENTERPRISE_ATTRS: tuple[Attr, ...] = (
    Attr("employeeNumber", description="The organisation's id of the user"),
    Attr("costCenter", description="Cost centre"),
    Attr("organization", description="Organisation"),
    Attr("division", description="Division"),
    Attr("department", description="Department"),
    Attr("manager", "complex", description="The user's manager", sub=(
        Attr("value", description="The manager's id"),
        Attr("$ref", "reference", reference_types=("User",), description="The manager's URI"),
        Attr("displayName", mutability="readOnly", description="The manager's display name"),
    )),
)

GROUP_ATTRS: tuple[Attr, ...] = (
    Attr("displayName", required=True, description="The group's name"),
    Attr("members", "complex", multi=True, description="Users in the group", sub=(
        Attr("value", mutability="immutable", description="The user's id"),
        Attr("$ref", "reference", mutability="immutable", reference_types=("User",)),
        Attr("type", mutability="immutable", description="Always User", canonical=("User",)),
    )),
)

USER_BY_NAME = {a.name.lower(): a for a in USER_ATTRS}
ENTERPRISE_BY_NAME = {a.name.lower(): a for a in ENTERPRISE_ATTRS}
#: Attributes of the resource that a client may repeat in a body but never change (RFC 7643 §3.1).
READ_ONLY = ("id", "meta", "schemas", "groups")
