"""Console forms (Flask-WTF: every form carries a CSRF token)."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ConfirmForm(FlaskForm):
    """A bare form: a button whose only field is the CSRF token."""
