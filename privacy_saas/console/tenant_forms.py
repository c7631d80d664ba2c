"""Forms of the tenant admin console (Flask-WTF: every form carries a CSRF token)."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from privacy_saas.processor.users.models import ROLES


class TenantLoginForm(FlaskForm):
    organisation = StringField("Organisation", validators=[DataRequired(), Length(max=63)])
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class AddUserForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    display_name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=[SelectChoice(r) for r in ROLES], default="member")


class ImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("choose a CSV file")])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(r) for r in ROLES])


class TokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=12, max=1024)])
    confirm = PasswordField("Repeat it", validators=[DataRequired(), EqualTo("password", "the passwords differ")])


class RejectForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(min=3, max=1000)])
