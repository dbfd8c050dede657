"""A renamed share is a new NFS export: nfs-ganesha cannot move an export's pseudo path.

Seen in the lab: after a rename changed an export's Pseudo in place, the next reload (SIGHUP)
killed ganesha, and the API's shutdown then crashed aborting a closed TLS transport.
"""

from __future__ import annotations


def test_rename_gives_the_share_a_new_export_id(appliance):
    rule = {'clients': '10.0.0.5', 'access': 'rw', 'root_squash': True}
    share = appliance.create_share('legacy', nfs={'enabled': True, 'rules': [rule]})
    before = appliance.share_named('legacy').export_id
    appliance.call('PATCH', f"/shares/{share['id']}", 200, json={'name': 'cinder-volume-x'})
    renamed = appliance.share_named('cinder-volume-x')
    assert renamed.id == share['id'] and renamed.export_id != before
    assert {row.export_id for row in appliance.shares()} == {renamed.export_id}


def test_quota_change_keeps_the_export_id(appliance):
    share = appliance.create_share('vol', quota_bytes=1 << 30)
    before = appliance.share_named('vol').export_id
    appliance.call('PATCH', f"/shares/{share['id']}", 200, json={'quota_bytes': 2 << 30})
    assert appliance.share_named('vol').export_id == before
