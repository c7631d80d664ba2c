"""Console forms (Flask-WTF: every form carries a CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional


class CommaListField(StringField):
    """A list of short texts typed as one comma-separated line."""

    def _value(self):
        return ", ".join(self.data or [])

    def process_formdata(self, valuelist):
        self.data = [item.strip() for item in (valuelist[0] if valuelist else "").split(",") if item.strip()]


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ConfirmForm(FlaskForm):
    """A bare form: a button whose only field is the CSRF token."""


class LegalHoldForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(min=3, max=500)])
    until = DateField("Review on", validators=[Optional()])


class EndContractForm(FlaskForm):
    on = DateField("Last contract day", validators=[Optional()])


class TypedConfirmForm(FlaskForm):
    """An irreversible step: the person types the tenant's slug (checked by the view against the tenant)."""

    typed = StringField("Type the tenant's slug to confirm", validators=[DataRequired(), Length(max=100)])


class EndContractConfirmForm(TypedConfirmForm):
    on = DateField("Last contract day", validators=[Optional()])


class ReinstateForm(FlaskForm):
    until = DateField("Renewed contract's last day", validators=[Optional()])
