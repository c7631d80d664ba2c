"""gunicorn settings read whenever gunicorn starts in this directory (or with -c gunicorn.conf.py).

The access log, if enabled (--access-logfile), goes through privacy_saas.accesslog: query values
that can carry e-mail addresses and link secrets are redacted before a line is written.
"""
logger_class = "privacy_saas.accesslog.GunicornLogger"
