"""The settings of `serve`: command-line values first, then the environment variables
ACME_APPLIANCE_<NAME> (pydantic-settings), then the defaults. Lists are comma-separated in
the environment: ACME_APPLIANCE_POOLS=pool1:100GiB,pool2:1TiB, ACME_APPLIANCE_USERS=admin:pw."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from acme_appliance.config import ApplianceConfig, parse_pool, parse_user


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]


class ServeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACME_APPLIANCE_", extra="ignore")

    data_dir: Path | None = None
    listen: str = "127.0.0.1:8443"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    nfs_address: str = "127.0.0.1"
    pools: CommaList = []
    users: CommaList = []
    token_ttl: int = 3600
    enable_faults: bool = False
    ganesha_conf_dir: Path | None = None
    ganesha_pidfile: Path | None = None
    usage_refresh: float = 30.0
    log_file: Path | None = None

    @classmethod
    def load(cls, given: dict[str, Any]) -> ServeSettings:
        """Command-line values (None: not given) over the environment; ValueError if invalid,
        without echoing values (ACME_APPLIANCE_USERS holds passwords)."""
        try:
            return cls(**{name: value for name, value in given.items() if value is not None})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                                 for err in exc.errors(include_input=False))
            raise ValueError(f"invalid setting: {problems}") from None

    def appliance_config(self) -> ApplianceConfig:
        """Check what depends on more than one setting; ValueError with a readable message."""
        if not self.data_dir:
            raise ValueError("--data-dir (or ACME_APPLIANCE_DATA_DIR) is required")
        users = dict(parse_user(user) for user in self.users)
        if not users:
            raise ValueError("at least one --user NAME:PASSWORD (or ACME_APPLIANCE_USERS) is "
                             "needed")
        if not self.insecure_http and not (self.tls_cert and self.tls_key):
            raise ValueError("HTTPS needs --tls-cert and --tls-key (or pass --insecure-http)")
        config = ApplianceConfig(
            data_dir=self.data_dir, users=users, token_ttl=self.token_ttl,
            nfs_address=self.nfs_address, enable_faults=self.enable_faults,
            ganesha_conf_dir=self.ganesha_conf_dir, ganesha_pidfile=self.ganesha_pidfile,
            usage_refresh_interval=self.usage_refresh)
        if self.pools:
            config.pools = dict(parse_pool(pool) for pool in self.pools)
        return config
