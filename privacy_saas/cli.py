"""The `privacy-saas` command line (also available as `flask --app wsgi ...`).

Each domain defines its own command group; the app factory registers them all.
"""
from __future__ import annotations

from flask.cli import FlaskGroup

from privacy_saas import create_app

main = FlaskGroup(create_app=create_app, help="privacy_saas administration.")
