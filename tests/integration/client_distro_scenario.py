"""Run by test_client_distro_libraries.py inside a venv holding a distribution's urllib3.

Imports the one client from the checkout and drives it against the appliance the test started
(URL, CA and password in the environment); prints one JSON object: the library versions, what
each step returned, and every wait the client asked for (recorded, not slept).
"""

import json
import os
import sys

sys.path.insert(0, os.environ['ACME_CLIENT_DIR'])

import acme_client  # noqa: E402  (from the checkout, after the path is set)
import urllib3  # noqa: E402

MIB = 1024 * 1024


def main() -> None:
    out = {'urllib3': urllib3.__version__,
           'requirements_error': acme_client.REQUIREMENTS_ERROR, 'sleeps': []}
    acme_client._sleep = out['sleeps'].append
    try:
        client = acme_client.AcmeClient(
            os.environ['ACME_URL'], 'admin', os.environ['ACME_PASSWORD'],
            verify=os.environ['ACME_CA'], retries=3, backoff=0.01)
    except acme_client.AcmeError as error:
        out['error'] = {'class': type(error).__name__, 'message': str(error)}
        print(json.dumps(out))
        return
    steps = out['steps'] = {}
    steps['login'] = client.system.get()['api_version']          # login: BUSY once
    steps['get'] = client.pools.get('pool1')['name']             # BUSY, Retry-After 3 h
    steps['dropped_get'] = len(client.shares.list())              # connection dropped once
    share = client.shares.create('distro', 'pool1', quota_bytes=MIB)  # BUSY, Retry-After 3 h
    steps['create'] = share['quota_bytes']
    steps['patch'] = client.shares.update(share['id'], quota_bytes=2 * MIB)['quota_bytes']
    steps['adopt'] = client.shares.create('distro', 'pool1')['id'] == share['id']
    print(json.dumps(out))


if __name__ == '__main__':
    main()
