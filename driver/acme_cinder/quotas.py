"""Quotas of volume shares: the volume size plus headroom for the appliance's metadata.

The appliance counts a share's used bytes as the allocated blocks of its files,
which for a volume file written to its last byte is a little more than the
volume size (extent or indirect blocks: on ext4 4 KiB for a GiB written in
order, about 0.6 % when written in scattered 4 KiB pieces). A quota of exactly the
size would refuse a clone of a full volume (a clone's quota may not be below its
origin snapshot's used bytes) and, on an appliance that enforces quotas on
writes, the last blocks a guest writes. So a share's quota is the size plus
``acme_share_quota_headroom`` percent, and never below the used bytes of the
data it starts with; both are rounded up to the appliance's granularity.
"""

from __future__ import annotations

import math

from oslo_utils import units

from acme_cinder import acme_client


def share_quota(size_gib: int, headroom_percent: float, used_bytes: int = 0) -> int:
    """Quota of the share of a ``size_gib`` volume whose data uses ``used_bytes``."""
    size = size_gib * units.Gi
    wanted = size + math.ceil(size * headroom_percent / 100)
    return acme_client.round_quota(max(wanted, used_bytes))


def volume_size(quota_bytes: int, headroom_percent: float) -> int:
    """Whole GiB of the largest volume ``quota_bytes`` was made for (share_quota's inverse).

    A quota made by another rule (a share Cinder does not manage yet) is rounded
    up to whole GiB as before: 1.5 GiB is 2, exactly 1 GiB is 1.
    """
    size = math.ceil(quota_bytes / (units.Gi * (1 + headroom_percent / 100)))
    if size > 0 and share_quota(size - 1, headroom_percent) >= quota_bytes:
        return size - 1
    return size
