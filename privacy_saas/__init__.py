"""privacy_saas: a multi-tenant admin backend that keeps processor and controller data apart."""
from __future__ import annotations

import logging
import os

import sqlalchemy as sa
from flask import Flask, g, render_template, request

from privacy_saas import accesslog, extensions, inputs
from privacy_saas import models  # noqa: F401  (every model registered before Alembic looks)
from privacy_saas.apiutil import wants_json
from privacy_saas.auth import token_cache
from privacy_saas.auth.cli import staff_cli
from privacy_saas.auth.loaders import SESSION_LOADERS, load_user
from privacy_saas.auth.principal import check_declared_capability
from privacy_saas.cliutil import Commands
from privacy_saas.config import from_env
from privacy_saas.console.arrival import bp as arrival_bp
from privacy_saas.console.arrival import demo_cli
from privacy_saas.console.jobs_views import bp as jobs_console_bp
from privacy_saas.console.controller_views import bp as controller_console_bp
from privacy_saas.console.notices_views import bp as notices_console_bp
from privacy_saas.console.records_views import bp as records_console_bp
from privacy_saas.console.records_views import tenant_bp as inventory_console_bp
from privacy_saas.console.rights_views import bp as rights_console_bp
from privacy_saas.console.tenant_notices_views import bp as tenant_notices_bp
from privacy_saas.console.tenant_views import bp as tenant_console_bp
from privacy_saas.console.views import bp as console_bp
from privacy_saas.controller.cli import contacts_cli, controller_cli, retention_cli
from privacy_saas.controller.contacts.api import blp as contacts_blp
from privacy_saas.controller.unsubscribe import bp as unsubscribe_bp
from privacy_saas.crypto.errors import KeyDestroyed, KeyStoreUnavailable
from privacy_saas.crypto.startup import check_keys, init_keyring
from privacy_saas.db import configure_sqlite
from privacy_saas.dbcli import check_distribution_cmd
from privacy_saas.errors import AppError, problem
from privacy_saas.health import bp as health_bp
from privacy_saas.jobs.cli import jobs_cli, purge_due, worker_cmd
from privacy_saas.jobs.scheduler import start_scheduler
from privacy_saas.keys.cli import keys_cli
from privacy_saas.lifecycle.api import blp as lifecycle_blp
from privacy_saas.lifecycle.cli import certificates_cli, purge_cli
from privacy_saas.notices.api import breaches_blp, changes_blp, notices_blp
from privacy_saas.notices.cli import breaches_cli, subprocessors_cli
from privacy_saas.oversight.api import blp as audit_blp
from privacy_saas.oversight.cli import audit_cli
from privacy_saas.processor.privacy_contacts.api import blp as privacy_contacts_blp
from privacy_saas.processor.scim.views import answer_refused as scim_answer_refused
from privacy_saas.processor.scim.views import bp as scim_bp
from privacy_saas.processor.tenants.api import blp as tenants_blp
from privacy_saas.processor.tenants.cli import tenants_cli
from privacy_saas.processor.usage import partitions
from privacy_saas.processor.usage.api import blp as usage_blp
from privacy_saas.processor.users.api import blp as users_blp
from privacy_saas.processor.users.cli import users_cli
from privacy_saas.processor.users.signin import load_session_user
from privacy_saas.records.api import blp as records_blp
from privacy_saas.records.cli import records_cli
from privacy_saas.rights.api import blp as rights_blp
from privacy_saas.rights.cli import dsr_cli
from privacy_saas.subprocessors.api import blp as subprocessors_blp
from privacy_saas.version import __version__  # noqa: F401  (the package's version; modules read version.py)


def create_app(config: dict | None = None) -> Flask:
    """Build the application: defaults, then the environment, then `config`."""
    app = Flask(__name__, instance_path=os.environ.get("PRIVACY_SAAS_INSTANCE", None) or None,
                instance_relative_config=True)
    logging.basicConfig(level=os.environ.get("PRIVACY_SAAS_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    accesslog.install()
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(from_env(app.instance_path, config))
    app.config["API_SPEC_OPTIONS"] = {
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "pst_... API token"}}},
        "security": [{"bearerAuth": []}],
    }
    if config:
        app.config.update(config)
    # Bound parameters may be ciphertext or personal data: never put them in logs or errors.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"], "hide_parameters": True}

    _init_extensions(app)
    _register_blueprints(app)
    _register_errors(app)
    _register_headers(app)
    _register_transaction_boundary(app)
    # After the capability check, so a wrong caller gets its 401/403 before a 400 on its input.
    inputs.init_app(app, answers={scim_bp.name: scim_answer_refused})

    _register_commands(app)
    _start_embedded_scheduler(app)
    return app


def _start_embedded_scheduler(app: Flask) -> None:
    """Without Redis there is no worker: `make run` asks the web process to sweep periodically."""
    interval = float(os.environ.get("PRIVACY_SAAS_EMBEDDED_SCHEDULER") or 0)
    if interval > 0 and not app.config.get("REDIS_URL") and not app.config.get("TESTING"):
        start_scheduler(app, interval)


def _init_extensions(app: Flask) -> None:
    db = extensions.db
    db.init_app(app)
    extensions.migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
                     render_as_batch=True, compare_type=True, include_name=partitions.include_name)
    login_manager = extensions.login_manager
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.session_protection = "strong"
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    extensions.api.init_app(app)

    keyring = init_keyring(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        token_cache.init_app(app)
        # Refuse to start with a master key that cannot unwrap the stored keys, or a live scope whose
        # key-encryption key is missing from its key store (wrong store, or a key-store backup too old).
        try:
            check_keys(keyring)
        except KeyStoreUnavailable as error:
            # A store outage must not stop the app: tenant requests answer 503 until it is back.
            app.logger.error("key store not checked at start: %s", error)
        db.session.remove()

    SESSION_LOADERS["user"] = load_session_user
    login_manager.user_loader(load_user)


def _register_blueprints(app: Flask) -> None:
    for blp in (tenants_blp, usage_blp, lifecycle_blp, users_blp, rights_blp, audit_blp, records_blp,
                privacy_contacts_blp, changes_blp, breaches_blp, notices_blp):
        extensions.api.register_blueprint(blp)
        # Bearer tokens need no CSRF token; a session cookie does, checked where it authenticates
        # (auth.principal.load_principal), so the API is exempt from the form-wide check only.
        extensions.csrf.exempt(blp)
    app.register_blueprint(scim_bp)
    extensions.csrf.exempt(scim_bp)  # bearer tokens only
    app.register_blueprint(arrival_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(jobs_console_bp)
    app.register_blueprint(tenant_console_bp)
    app.register_blueprint(tenant_notices_bp)
    app.register_blueprint(notices_console_bp)
    app.register_blueprint(rights_console_bp)
    app.register_blueprint(records_console_bp)
    app.register_blueprint(inventory_console_bp)
    app.register_blueprint(health_bp)
    _register_controller(app)


def _register_controller(app: Flask) -> None:
    """The controller scope's staff API, console pages and public unsubscribe links."""
    for blp in (contacts_blp, subprocessors_blp):
        extensions.api.register_blueprint(blp)
        extensions.csrf.exempt(blp)  # as the processor API: the cookie's CSRF check is in load_principal
    # The signed token in the URL authorises the POST (and RFC 8058 one-click senders carry no cookie).
    extensions.csrf.exempt(unsubscribe_bp)
    extensions.limiter.limit("30 per minute")(unsubscribe_bp)
    app.register_blueprint(unsubscribe_bp)
    app.register_blueprint(controller_console_bp)


def _register_commands(app: Flask) -> None:
    """Attach each domain's command group to the app's CLI."""
    # Flask's own group, but ending on a key-store or database outage with a message (as `privacy-saas` does);
    # it keeps what extensions registered already (Flask-Migrate's `db`).
    outage_aware = Commands(app.name)
    for name, command in app.cli.commands.items():
        outage_aware.add_command(command, name)
    app.cli = outage_aware
    # `purge due` runs the scheduler's sweep (jobs/), which lifecycle/ is below; adding it again is a no-op.
    purge_cli.add_command(purge_due)
    for group in (tenants_cli, users_cli, staff_cli, keys_cli, audit_cli, purge_cli, certificates_cli, worker_cmd,
                  jobs_cli, controller_cli, contacts_cli, retention_cli, dsr_cli, records_cli, breaches_cli,
                  subprocessors_cli, demo_cli):
        app.cli.add_command(group)
    # Flask-Migrate's `db` group (upgrade, downgrade, ...) gets the schema check beside them.
    app.cli.commands["db"].add_command(check_distribution_cmd)


def _database_unavailable():
    extensions.db.session.rollback()
    return problem(503, "database_unavailable", "the database is unavailable; retry later")


def _register_errors(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(error: AppError):
        if error.keep_changes:
            g.keep_changes = True
        if wants_json():
            return problem(error.status, error.code, error.message, error.errors)
        return render_template("console/error.html", status=error.status,
                               message=error.message), error.status

    @app.errorhandler(sa.exc.DataError)
    def _unstorable_value(error):
        # Input the schema let through but the database cannot hold (a NUL byte in text on
        # PostgreSQL, an out-of-range number): the client's fault, not a 500.
        app.logger.warning("value refused by the database: %s", type(error.orig).__name__)
        extensions.db.session.rollback()
        return problem(400, "invalid_value", "a value cannot be stored (NUL byte or out of range)")

    @app.errorhandler(KeyStoreUnavailable)
    def _key_store_down(error):
        # The store did not answer for a scope whose keys are not cached: nothing is written.
        app.logger.error("key store unavailable: %s", error)
        extensions.db.session.rollback()
        return _app_error(AppError("the key store is unavailable; retry later", code="key_store_unavailable",
                                   status=503))

    @app.errorhandler(KeyDestroyed)
    def _undecryptable(error):
        # A scope purged after this database was copied (a restored backup): its keys are gone for good.
        app.logger.warning("undecryptable record: %s", error)
        extensions.db.session.rollback()
        return _app_error(AppError("this record cannot be decrypted: its keys have been destroyed "
                                   "(crypto-shredded)", code="record_undecryptable", status=410))

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    def _database_down(error):
        app.logger.error("database unavailable: %s", type(error).__name__)
        return _database_unavailable()


def _register_headers(app: Flask) -> None:
    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy",
                           "default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
                           "base-uri 'none'")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        # Other sites never see our URLs (they may hold link secrets); our own forms and scripts send
        # it, for Flask-WTF's HTTPS check that a state change comes from one of our pages.
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(("/api", "/scim", "/console")):
            headers.setdefault("Cache-Control", "no-store")
        return response


def _register_transaction_boundary(app: Flask) -> None:
    """Services flush; the request commits when it succeeded and rolls back otherwise."""
    db = extensions.db

    @app.before_request
    def _fresh_request_state():
        # g lives in the app context, which a test (or CLI) may keep across requests: the caller
        # and the CSRF token cached there belong to one request only.
        g.pop("principal", None)
        g.pop("csrf_token", None)
        g.pop("keep_changes", None)

    # Registered after the state reset above, so the principal is this request's.
    app.before_request(check_declared_capability)

    @app.after_request
    def _commit(response):
        if response.status_code < 400 or g.pop("keep_changes", False):
            try:
                db.session.commit()
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
                # The database went away between the work and the commit: nothing was written.
                app.logger.error("database unavailable at commit: %s", type(error).__name__)
                return _database_unavailable()
        else:
            db.session.rollback()
        return response
