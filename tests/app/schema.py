"""Moving the test database between migrations, for the upgrade tests."""

from contextlib import contextmanager

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from bitstore_app import services


def migrate(target=None):
    """Migrate the test database to `target` (default: the latest); return the executor."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target or executor.loader.graph.leaf_nodes())
    services.configuration.invalidate()
    return executor


@contextmanager
def schema_of(target):
    """Migrate back to `target`; yield its models; migrate forward again."""
    executor = migrate(target)
    yield executor.loader.project_state(target).apps
    migrate()
