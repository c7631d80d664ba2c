"""Forms of the controller-scope console pages (every form carries a CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from privacy_saas.controller.contacts.models import CONSENT_ACTIONS, CONSENT_PURPOSES


class ConsentForm(FlaskForm):
    purpose = SelectField("Purpose", choices=list(CONSENT_PURPOSES))
    action = SelectField("Action", choices=list(CONSENT_ACTIONS))
    evidence = TextAreaField("Evidence (how and where)", validators=[DataRequired(), Length(min=3, max=1000)])


class EraseForm(FlaskForm):
    confirm = BooleanField("Erase this contact and suppress the address", validators=[DataRequired()])


class SubprocessorForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    purpose = StringField("Purpose", validators=[DataRequired(), Length(max=500)])
    location = StringField("Location", validators=[DataRequired(), Length(max=200)])
    safeguards = StringField("Safeguards", validators=[DataRequired(), Length(max=500)])
    dpa_signed_on = DateField("DPA signed on", validators=[Optional()])
    last_reviewed_on = DateField("Last review", validators=[Optional()])
