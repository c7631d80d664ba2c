"""Forms of the controller-scope console pages (every form carries a CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from privacy_saas.controller.contacts.models import CONSENT_ACTIONS, CONSENT_PURPOSES
from privacy_saas.processor.tenants.models import REGIONS
from privacy_saas.subprocessors.models import COUNTRY_CODE, SCOPES
from privacy_saas.subprocessors.schemas import DATA_CATEGORIES


class ConsentForm(FlaskForm):
    purpose = SelectField("Purpose", choices=list(CONSENT_PURPOSES))
    action = SelectField("Action", choices=list(CONSENT_ACTIONS))
    evidence = TextAreaField("Evidence (how and where)", validators=[DataRequired(), Length(min=3, max=1000)])


class EraseForm(FlaskForm):
    confirm = BooleanField("Erase this contact and suppress the address", validators=[DataRequired()])


class SuppressionLookupForm(FlaskForm):
    email = StringField("E-mail address", validators=[DataRequired(), Length(max=254)])


class SuppressionAddForm(FlaskForm):
    email = StringField("E-mail address", validators=[DataRequired(), Length(max=254)])
    reason = SelectField("Why", choices=[SelectChoice("unsubscribe", "unsubscribed (by mail or phone)"),
                                         SelectChoice("objection", "objected (Art. 21)")])


class SubprocessorForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    purpose = StringField("Purpose", validators=[DataRequired(), Length(max=500)])
    location = StringField("Location", validators=[DataRequired(), Length(max=200)])
    safeguards = StringField("Safeguards", validators=[DataRequired(), Length(max=500)])
    dpa_signed_on = DateField("DPA signed on", validators=[Optional()])
    last_reviewed_on = DateField("Last review", validators=[Optional()])
    scopes = SelectMultipleField("Receives data of", choices=list(SCOPES))
    data_categories = SelectMultipleField("Data categories it receives", choices=list(DATA_CATEGORIES))
    country = StringField("Country of processing (ISO code, e.g. IE)", filters=[lambda v: (v or "").strip().upper()
                                                                                or None],
                          validators=[Optional(), Regexp(COUNTRY_CODE, message="an ISO 3166-1 alpha-2 code")])
    tenant_regions = SelectMultipleField("Tenant regions (none selected: all)", choices=list(REGIONS))
