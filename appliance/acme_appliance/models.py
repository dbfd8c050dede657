"""Request and response schemas; the OpenAPI document is generated from these."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

from acme_appliance.config import NAME_PATTERN
from acme_appliance.errors import STATUS_OF_CODE
from acme_appliance.fault_pattern import check_pattern
from acme_appliance.records import check_canonical_clients

Name = Annotated[str, Field(pattern=NAME_PATTERN, description=(
    "1-64 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"), examples=["vol-1"])]
Bytes = Annotated[StrictInt, Field(ge=0, le=2**63 - 1, description="Bytes, a JSON integer")]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: Literal[tuple(STATUS_OF_CODE)]  # type: ignore[valid-type]
    message: str
    details: dict[str, Any] = Field(description="ALREADY_EXISTS: `id` of the existing object; "
                                    "IN_USE: the ids of the dependent objects")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class LoginRequest(Request):
    username: str = Field(max_length=256)
    password: str = Field(max_length=1024)


class Token(BaseModel):
    token: str
    expires_in: int = Field(description="Seconds until the token expires")


class System(BaseModel):
    vendor: str
    model: str
    version: str
    api_version: str
    exports_pending: bool = Field(False, description=(
        "True while nfs-ganesha may serve other NFS exports than the ones the API reports: "
        "a change ganesha refused (answered 503, nothing stored) and the give-back of the "
        "stored exports both failed. The appliance applies the stored exports again every "
        "second until ganesha takes them; then this is false again."))


class Pool(BaseModel):
    name: str
    total_bytes: int
    free_bytes: int
    used_bytes: int = Field(description="Allocated bytes of the pool's shares and snapshots")
    provisioned_bytes: int = Field(description="Sum of the quotas of the pool's shares")
    share_count: int


class PoolList(BaseModel):
    items: list[Pool]
    next: str | None = None


class NfsRule(Request):
    clients: str = Field(max_length=64, description=(
        "One IPv4/IPv6 address, a CIDR network, or '*', written canonically (as Python's "
        "ipaddress writes it: IPv6 compressed in lower case, a network without host bits); "
        "an IPv6 zone id (fe80::1%eth0) is refused. Exported exactly as given"),
        examples=["10.0.0.5", "10.0.0.0/24", "fd00::/64", "*"])
    access: Literal["rw", "ro"]
    root_squash: StrictBool = True

    @field_validator("clients")
    @classmethod
    def _check_clients(cls, value: str) -> str:
        try:
            return check_canonical_clients(value)
        except ValueError as exc:
            raise ValueError("clients must be '*', an IP address or a CIDR network, written "
                             f"canonically, without an IPv6 zone id: {exc}") from None


class NfsSettings(Request):
    enabled: StrictBool = False
    rules: list[NfsRule] = Field(default_factory=list, max_length=256, description=(
        "Clients allowed to mount while enabled; an empty list exports to no client"))

    @field_validator("rules")
    @classmethod
    def _unique_clients(cls, rules: list[NfsRule]) -> list[NfsRule]:
        clients = [rule.clients for rule in rules]
        if len(set(clients)) != len(clients):
            raise ValueError("each clients value may appear in one rule only")
        return rules


MAX_ID = 2**31 - 1
UnixId = Annotated[StrictInt, Field(ge=0, le=MAX_ID)]
MODE_PATTERN = r"^0?[0-7]{3}$"


class ShareRoot(Request):
    uid: UnixId = Field(0, description="Owner of the share's root directory")
    gid: UnixId = Field(0, description="Group of the share's root directory")
    mode: Annotated[StrictStr, Field(pattern=MODE_PATTERN, examples=["0770", "755"])] = Field(
        "0755", description=(
            "Permission bits in octal: 3 digits, or 4 with a leading 0; setuid, setgid and "
            "sticky bits are refused. Responses always carry 4 digits."))


class ShareCreate(Request):
    name: Name
    pool: Name
    quota_bytes: Bytes | None = Field(None, description=(
        "Rounded up to a multiple of 1 MiB; absent, null or 0 means no quota. A clone without "
        "it inherits its origin share's quota."))
    origin_snapshot_id: str | None = Field(None, description="Create a clone of this snapshot")
    nfs: NfsSettings | None = None
    root: ShareRoot | None = Field(None, description=(
        "Owner, group and mode of the share's root directory (what NFS clients see at the top "
        "of the export); absent or null: uid 0, gid 0, mode 0755, and a clone keeps its "
        "snapshot's"))


class ShareUpdate(Request):
    quota_bytes: Bytes | None = Field(None, description="null or 0 removes the quota")
    name: Name | None = None
    root: ShareRoot | None = Field(None, description=(
        "Change the root directory's owner, group and/or mode; keys left out keep their "
        "current value"))


class Share(BaseModel):
    id: str
    name: str
    pool: str
    path: str = Field(description="/<pool>/<name>, the NFS path; follows a rename")
    exports: list[str] = Field(description=(
        "ADDR:/PATH for mount -t nfs on the data address; listed always, mountable only while "
        "nfs.enabled and only from the rules' clients"))
    quota_bytes: int = Field(description="0 means no quota")
    used_bytes: int = Field(description="Allocated bytes (st_blocks * 512) of the share's files")
    used_bytes_complete: bool = Field(True, description=(
        "false when the share's tree is deeper than the appliance walks (a few thousand "
        "levels): used_bytes then counts only the levels walked"))
    origin_snapshot_id: str | None
    nfs: NfsSettings
    root: ShareRoot
    created_at: str


class ShareList(BaseModel):
    items: list[Share]
    next: str | None = Field(description="Cursor of the next page, or null")


class SnapshotCreate(Request):
    name: Name


class SnapshotUpdate(Request):
    name: Name


class Snapshot(BaseModel):
    id: str
    name: str
    share_id: str
    created_at: str
    used_bytes: int
    clones: list[str] = Field(description="Ids of the shares cloned from this snapshot")


class SnapshotList(BaseModel):
    items: list[Snapshot]
    next: str | None


class RollbackRequest(Request):
    destroy_newer: StrictBool = False


class FaultCreate(Request):
    method: str = Field("*", pattern=r"^([A-Za-z]{1,10}|\*)$", description=(
        "HTTP method, or '*' for any"))
    path: str = Field(max_length=200, description=(
        "Regular expression, fullmatched against the path below /api/v1 (paths longer than "
        "1024 characters never match). To keep every match quick the language is cut down: a "
        "repeat (*, +, ?, {m,n}) applies to one character or class, never to a group; at most "
        "2 repeats of variable length; no alternation (|), backreferences, lookarounds or "
        "inline flags; at most 200 characters"),
        examples=["/shares", "/shares/[^/]+/snapshots", "/shares/.*"])
    nth: Annotated[StrictInt, Field(ge=1)] = 1
    times: Annotated[StrictInt, Field(ge=1)] = 1
    action: Literal["fail", "delay", "drop"]
    when: Literal["before", "after"] = Field("before", description=(
        "'after' runs the call first, then fails, delays or drops its response"))
    status: Annotated[StrictInt, Field(ge=400, le=599)] = 503
    code: Literal[tuple(STATUS_OF_CODE)] | None = None  # type: ignore[valid-type]
    message: str | None = Field(None, max_length=1024)
    retry_after: Annotated[StrictInt, Field(ge=0, le=2**31 - 1)] | None = None
    delay: Annotated[float, Field(ge=0, le=600)] = 1.0

    @field_validator("path")
    @classmethod
    def _check_regex(cls, value: str) -> str:
        try:
            check_pattern(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class Fault(FaultCreate):
    id: str
    seen: int = Field(description="Matching calls counted since the fault was added")
    hits: int = Field(description="Calls the fault acted on")


class FaultList(BaseModel):
    items: list[Fault]
    next: str | None = None
