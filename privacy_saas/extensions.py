"""Flask extensions, created unbound and initialised by the app factory."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from privacy_saas.apiutil import ErrorResponsesPlugin, ProblemApi
from privacy_saas.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
api = ProblemApi(spec_kwargs={"extra_plugins": [ErrorResponsesPlugin()]})
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
