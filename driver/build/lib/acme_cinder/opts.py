"""Entry point ``oslo.config.opts: acme_cinder`` for oslo-config-generator."""

from __future__ import annotations

from oslo_config import cfg

from acme_cinder import options


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    # 'backend' is Cinder's placeholder for a section named in enabled_backends.
    return [('backend', list(options.ACME_OPTS))]
