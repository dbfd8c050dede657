"""Cinder's process-wide state for driver tests: configuration, objects, locks, database.

The database is a real sqlite one with Cinder's own schema (its migrations, ~2 s), so the
driver's reads of attachments and volumes are Cinder's real queries.
"""

from __future__ import annotations

from pathlib import Path

from oslo_config import cfg

from cinder import coordination, objects

CONF = cfg.CONF


def start(state: Path | None, backend_url: str | None = None, database: Path | None = None,
          db_sync: bool = True) -> None:
    """Locks in ``state`` (tooz's file driver) unless ``backend_url`` names another backend;
    the database ``state``/cinder.sqlite unless ``database``, its schema made if ``db_sync``."""
    objects.register_all()
    CONF([], project='cinder', default_config_files=[])
    CONF.set_override('backend_url', backend_url or f'file://{state}/locks', group='coordination')
    CONF.set_override('connection', f'sqlite:///{database or state / "cinder.sqlite"}',
                      group='database')
    if db_sync:
        from cinder.db import migration
        migration.db_sync()
    coordination.COORDINATOR.start()


def stop() -> None:
    coordination.COORDINATOR.stop()
