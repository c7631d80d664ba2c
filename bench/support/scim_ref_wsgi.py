"""The reference scim2-server as a WSGI app for gunicorn (it ships none).

SCIM_TOKEN=bench-token gunicorn -w 1 --threads 4 -b 127.0.0.1:8081 bench.support.scim_ref_wsgi:app
Its storage is in memory behind one lock, so it must run with a single worker.
"""
import os

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import load_default_resource_types, load_default_schemas, load_default_service_provider_config

config = load_default_service_provider_config()
config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
provider = ScimProvider.from_discovery(load_default_schemas().values(), load_default_resource_types().values(),
                                       config=config)
app = BearerTokenApplication(InMemoryStorage(), provider, service=ScimService(provider),
                             bearer_tokens=[os.environ.get("SCIM_TOKEN", "bench-token")])
