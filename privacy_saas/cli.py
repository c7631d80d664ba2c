"""The `privacy-saas` command line (also available as `flask --app wsgi ...`).

Each domain defines its own command group; the app factory registers them all.
"""
from __future__ import annotations

from privacy_saas import create_app
from privacy_saas.cliutil import Main

# A key store or database that does not answer ends any command with a message, not a traceback.
main = Main(create_app=create_app, help="privacy_saas administration.")
