"""Forms of the notices pages: sub-processor changes, breaches, objection tasks (staff); answers (tenant)."""
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from privacy_saas.console.forms import CommaListField
from privacy_saas.notices.models import AUTHORITY_DECISIONS, BREACH_SCOPES, CHANGE_ACTIONS, SUBJECT_DECISIONS
from privacy_saas.processor.tenants.models import REGIONS
from privacy_saas.subprocessors.models import COUNTRY_CODE
from privacy_saas.subprocessors.schemas import DATA_CATEGORIES

#: datetime-local inputs carry no zone: the console states that times are UTC.
LOCAL = "%Y-%m-%dT%H:%M"


class ChangeForm(FlaskForm):
    action = SelectField("Change", choices=list(CHANGE_ACTIONS))
    subprocessor_id = SelectField("Register entry (replace, remove)", choices=[], validate_choice=False)
    name = StringField("Sub-processor", validators=[Optional(), Length(max=200)])
    purpose = StringField("Purpose", validators=[Optional(), Length(max=500)])
    country = StringField("Country of processing (ISO code, e.g. IE)",
                          filters=[lambda v: (v or "").strip().upper() or None],
                          validators=[Optional(), Regexp(COUNTRY_CODE, message="an ISO 3166-1 alpha-2 code")])
    location = StringField("Location, in words (default: the country code)", validators=[Optional(), Length(max=200)])
    transfer_mechanism = StringField("Transfer mechanism", validators=[Optional(), Length(max=500)])
    data_categories = SelectMultipleField("Data categories it will receive", choices=list(DATA_CATEGORIES))
    tenant_regions = SelectMultipleField("Tenant regions (none selected: all)", choices=list(REGIONS))
    effective_on = DateField("Takes effect on", validators=[DataRequired()])
    draft = BooleanField("Save as draft (publish later)")


class ReasonForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(min=3, max=1000)])


class ResolutionForm(FlaskForm):
    resolution = StringField("Resolution", validators=[DataRequired(), Length(max=1000)])


class BreachForm(FlaskForm):
    scope = SelectField("Scope", choices=list(BREACH_SCOPES))
    tenants = CommaListField("Tenants (slugs, comma-separated)")
    held_from = DateField("Or every tenant whose data was held from", validators=[Optional()])
    held_to = DateField("to", validators=[Optional()])
    occurred_at = DateTimeLocalField("Occurred (UTC)", format=LOCAL, validators=[DataRequired()])
    aware_at = DateTimeLocalField("We became aware (UTC)", format=LOCAL, validators=[DataRequired()])
    nature = TextAreaField("Nature of the breach", validators=[DataRequired(), Length(max=4000)])
    data_categories = CommaListField("Data categories (comma-separated)",
                                     validators=[Length(max=30, message="at most 30 categories")])
    subject_categories = CommaListField("Data subject categories (comma-separated)",
                                        validators=[Length(max=30, message="at most 30 categories")])
    approx_subjects = IntegerField("Approximate data subjects", validators=[Optional(), NumberRange(min=0)])
    approx_records = IntegerField("Approximate records", validators=[Optional(), NumberRange(min=0)])
    consequences = TextAreaField("Likely consequences", validators=[Optional(), Length(max=4000)])
    measures = TextAreaField("Measures taken", validators=[Optional(), Length(max=4000)])
    measures_proposed = TextAreaField("Measures proposed", validators=[Optional(), Length(max=4000)])
    notify = BooleanField("Notify every affected tenant now")


class NotifyForm(FlaskForm):
    channel = SelectField("How", choices=[SelectChoice("email", "e-mail to admins and privacy contacts"),
                                          SelectChoice("other", "already told another way (record as delivered)")])
    tenant = StringField("Only this tenant (slug; empty: all not yet told)", validators=[Optional(), Length(max=63)])


class UpdateForm(FlaskForm):
    summary = TextAreaField("What is new", validators=[DataRequired(), Length(max=4000)])
    approx_subjects = IntegerField("Approximate data subjects", validators=[Optional(), NumberRange(min=0)])
    consequences = TextAreaField("Likely consequences", validators=[Optional(), Length(max=4000)])
    measures = TextAreaField("Measures taken", validators=[Optional(), Length(max=4000)])


class AuthorityForm(FlaskForm):
    decision = SelectField("Supervisory authority", choices=list(AUTHORITY_DECISIONS))
    notified_at = DateTimeLocalField("Notified at (UTC)", format=LOCAL, validators=[Optional()])
    reference = StringField("Authority's reference", validators=[Optional(), Length(max=200)])
    reason = TextAreaField("Reason (not notifying; or late)", validators=[Optional(), Length(max=4000)])


class SubjectsForm(FlaskForm):
    decision = SelectField("Data subjects", choices=list(SUBJECT_DECISIONS))
    informed_at = DateTimeLocalField("Informed at (UTC)", format=LOCAL, validators=[Optional()])
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=4000)])


class ObjectionForm(FlaskForm):
    reason = TextAreaField("Your reasons", validators=[DataRequired(), Length(min=3, max=2000)])


class PrivacyContactForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])

