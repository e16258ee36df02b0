import pytest
from django.conf import settings

# A second alias to the test database, for the read-replica router's tests. The router sends
# reads to it only where a test lists it in DATABASE_REPLICAS.
settings.DATABASES["replica_test"] = {
    **settings.DATABASES["default"],
    "TEST": {"MIRROR": "default"},
}


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """Tests run without `collectstatic`, so static URLs need no manifest."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def pytest_runtest_setup(item):
    """PostgreSQL-only features run on the PostgreSQL pass of CI; SQLite covers the fallback."""
    from django.db import connection

    if item.get_closest_marker("postgres_only") and connection.vendor != "postgresql":
        pytest.skip("PostgreSQL-only feature; the SQLite run tests the fallback")
