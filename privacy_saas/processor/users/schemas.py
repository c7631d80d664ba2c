"""Registered user API schemas: separate input, update, query and output shapes."""
from marshmallow import Schema, fields, pre_dump, validate

from privacy_saas.crypto.errors import CryptoError
from privacy_saas.processor.users.models import ROLES, STATUSES
from privacy_saas.processor.users.validation import MAX_EMAIL, MAX_NAME, MIN_PASSWORD_LENGTH

_name = {"validate": validate.Length(max=MAX_NAME), "allow_none": True}


class UserCreateSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=MAX_EMAIL))
    display_name = fields.String(**_name)
    given_name = fields.String(**_name)
    family_name = fields.String(**_name)
    role = fields.String(load_default="member", validate=validate.OneOf(ROLES))
    external_id = fields.String(validate=validate.Length(min=1, max=255), allow_none=True)
    password = fields.String(load_only=True, validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=1024),
                             metadata={"description": "Optional; without it a set-password invitation is sent."})


class UserUpdateSchema(Schema):
    display_name = fields.String(**_name)
    given_name = fields.String(**_name)
    family_name = fields.String(**_name)
    role = fields.String(validate=validate.OneOf(ROLES))
    status = fields.String(validate=validate.OneOf(STATUSES))


class UserQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    role = fields.String(validate=validate.OneOf(ROLES))
    email = fields.String(validate=validate.Length(min=1, max=MAX_EMAIL),
                          metadata={"description": "Exact e-mail address (matched by blind index)."})


class InvitationSchema(Schema):
    url = fields.String()
    expires_at = fields.DateTime()


class UserSchema(Schema):
    id = fields.UUID()
    email = fields.String(allow_none=True, metadata={
        "description": "The user's e-mail: the primary one, else the work one, else the userName when it is one."})
    user_name = fields.String(metadata={"description": "The sign-in name (SCIM userName)."})
    display_name = fields.String(allow_none=True)
    given_name = fields.String(allow_none=True)
    family_name = fields.String(allow_none=True)
    role = fields.String()
    status = fields.String()
    external_id = fields.String(allow_none=True)
    has_password = fields.Method("_has_password")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)
    disabled_at = fields.DateTime(allow_none=True)
    invitation = fields.Nested(InvitationSchema, allow_none=True,
                               metadata={"description": "The set-password link just issued (creation only)."})
    error = fields.String(metadata={"description": "`undecryptable` when the record cannot be read."})

    def _has_password(self, user):
        return user.password_hash is not None if not isinstance(user, dict) else None

    @pre_dump
    def _readable(self, user, **kwargs):
        """Turn a record that fails to decrypt into an error marker, not a failed page."""
        try:
            for name in ("email", "user_name", "display_name", "given_name", "family_name", "external_id"):
                getattr(user, name)
        except CryptoError:
            return {"id": user.id, "role": user.role, "status": user.status, "created_at": user.created_at,
                    "updated_at": user.updated_at, "error": "undecryptable"}
        return user


class ImportErrorSchema(Schema):
    line = fields.Integer()
    code = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ImportResultSchema(Schema):
    created = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    errors = fields.List(fields.Nested(ImportErrorSchema))
    invitations = fields.List(fields.Nested(InvitationSchema))
