"""Benchmark (not a test): a playbook creates 100 shares in a loop, then runs again.

Starts the real simulator over HTTPS on loopback, runs the same playbook twice with real
ansible-playbook and prints both wall times and how many loop items changed. The second run
must change nothing (exit status 1 otherwise).

    tests/bench/modules_bench.sh [--count N]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / 'build'
LINK = BUILD / 'ansible_collections' / 'acme' / 'nas'
BIN = Path(sys.executable).parent
sys.path[:0] = [str(REPO / 'plugins' / 'module_utils'), str(REPO)]

from tests.support.simulator import start_simulator  # noqa: E402

PLAYBOOK = """
- name: Create {count} shares
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Shares bench-000 ...
      acme.nas.acme_share:
        name: "bench-{{{{ '%03d' | format(item) }}}}"
        pool: pool1
        size: 1GiB
        nfs:
          rules:
            - clients: 10.0.0.0/24
      loop: "{{{{ range({count}) | list }}}}"
"""


def ansible_env(sim) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'ACME_'))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
               ANSIBLE_COLLECTIONS_PATH=str(BUILD), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               ACME_URL=sim.url, ACME_USERNAME='admin', ACME_PASSWORD=sim.password,
               ACME_CA_PATH=sim.ca_path)
    return env


def run_playbook(path: Path, env: dict) -> tuple[float, int, int, int]:
    """Wall seconds, changed items, failed items, all items."""
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / 'ansible-playbook'), str(path)], env=env,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    data = json.loads(proc.stdout)
    items = data['plays'][0]['tasks'][0]['hosts']['localhost']['results']
    changed = sum(1 for item in items if item.get('changed'))
    failed = sum(1 for item in items if item.get('failed'))
    return seconds, changed, failed, len(items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=100)
    count = parser.parse_args().count
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(REPO, LINK)
    with tempfile.TemporaryDirectory() as tmp:
        sim = start_simulator(Path(tmp) / 'appliance')
        try:
            playbook = Path(tmp) / 'bench.yml'
            playbook.write_text(PLAYBOOK.format(count=count))
            env = ansible_env(sim)
            print(f'modules benchmark: {count} shares in one loop, ansible-playbook run twice')
            results = []
            for label in ('first run (creates)', 'second run (no change)'):
                seconds, changed, failed, items = run_playbook(playbook, env)
                results.append((changed, failed))
                print(f'  {label:<24} wall {seconds:6.1f} s  ({seconds / items * 1000:4.0f} ms '
                      f'per item)  changed={changed} failed={failed} of {items}')
        finally:
            sim.stop()
    first, second = results
    ok = first == (count, 0) and second == (0, 0)
    print('  second run changed=0: ' + ('yes' if second[0] == 0 else 'NO'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
