"""Benchmark (not a test): a playbook creates 100 shares in a loop, then runs again.

Serves the real simulator over HTTPS on loopback in this process, runs the same playbook twice
with real ansible-playbook and prints both wall times and how many loop items changed. Ansible's
own floor is the same loop over the same items with a module that does nothing
(``ansible.builtin.ping``: a real module, shipped and run per item like ``acme_share``, with no
work of its own); both runs are printed as ratios to it. The floor and the second run are
repeated ``--rounds`` times back to back (floor, then shares), so a change of the machine's load
shifts both runs of a round alike; the ratio printed is the median of the rounds' ratios, of
wall time, of CPU time (this process and every process it waited for: under load, CPU time
moves far less than wall time) and of ansible's CPU time (its processes alone, without the
simulator's thread, which stands for an appliance on another machine). Every second run must
change nothing (exit status 1 otherwise).

With ansible's own strategy (``linear``) every module run is a new Python process; with
Mitogen's (``mitogen_linear``), the strategy operators choose for speed, modules run in kept
interpreters, so what a module imports is paid once. Both are measured by default.

    tests/bench/modules_bench.sh [--count N] [--rounds R] [--strategies linear,mitogen_linear]
"""

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.collection import collections_path  # noqa: E402

collections_path()
from tests.support.ansible import Ansible, strategy_env  # noqa: E402
from tests.support.appliance import Appliance  # noqa: E402

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

FLOOR = """
- name: Ansible's floor, a no-op module over {count} items
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Shares bench-000 ...
      ansible.builtin.ping:
        data: "bench-{{{{ '%03d' | format(item) }}}}"
      loop: "{{{{ range({count}) | list }}}}"
"""


def cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system): of this process and its waited-for children, and of the
    children alone (ansible-playbook, its workers and every module process: ansible's cost,
    without the simulator's thread, which stands for an appliance on another machine)."""
    mine, children = (resource.getrusage(who) for who in
                      (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    ansible = children.ru_utime + children.ru_stime
    return mine.ru_utime + mine.ru_stime + ansible, ansible


def run_playbook(ansible: Ansible, path: Path) -> tuple[float, float, int, int, int, float]:
    """Wall seconds, CPU seconds, changed items, failed items, all items, ansible's CPU s."""
    start, (cpu, ansible_cpu) = time.perf_counter(), cpu_seconds()
    run = ansible.playbook(path)
    end_cpu, end_ansible = cpu_seconds()
    seconds = time.perf_counter() - start
    cpu, ansible_cpu = end_cpu - cpu, end_ansible - ansible_cpu
    items = run['Shares bench-000 ...']['results']
    changed = sum(1 for item in items if item.get('changed'))
    failed = sum(1 for item in items if item.get('failed'))
    return seconds, cpu, changed, failed, len(items), ansible_cpu


def run_all(ansible: Ansible, tmp: Path, count: int,
            rounds: int) -> list[tuple[str, float, float, int, int]]:
    """The shares playbook once (creates), then ``rounds`` times the floor and the shares
    playbook again: (label, wall seconds, CPU seconds, changed, failed) each."""
    floor, shares = Path(tmp) / 'floor.yml', Path(tmp) / 'bench.yml'
    floor.write_text(FLOOR.format(count=count))
    shares.write_text(PLAYBOOK.format(count=count))
    runs = [('first run (creates)', shares)]
    for number in range(1, rounds + 1):
        runs += [(f'no-op floor (ping) {number}', floor),
                 (f'second run (no change) {number}', shares)]
    results = []
    for label, path in runs:
        seconds, cpu, changed, failed, items, ansible_cpu = run_playbook(ansible, path)
        results.append((label, seconds, cpu, changed, failed, ansible_cpu))
        print(f'  {label:<26} wall {seconds:6.1f} s  ({seconds / items * 1000:4.0f} ms '
              f'per item)  cpu {cpu:6.1f} s  ansible cpu {ansible_cpu:6.1f} s  '
              f'changed={changed} failed={failed} of {items}')
    return results


def bench(sim: Appliance, tmp: Path, strategy: str, count: int, rounds: int) -> bool:
    """One strategy: the runs, then the ratios; whether every run did what it should."""
    sim.reset(tmp / f'appliance-{strategy}')
    ansible = Ansible(tmp / f'ansible-{strategy}', env=dict(
        ACME_URL=sim.url, ACME_USERNAME='admin', ACME_PASSWORD=sim.password,
        ACME_CA_PATH=sim.ca_path, **strategy_env(strategy)))
    print(f'strategy {strategy}:')
    first, *pairs = run_all(ansible, tmp, count, rounds)
    floors, seconds = pairs[0::2], pairs[1::2]
    print(f'  first run / first floor         wall {first[1] / floors[0][1]:5.2f}x')
    for label, index in (('wall', 1), ('cpu', 2), ('ansible cpu', 5)):
        ratios = [second[index] / floor[index]
                  for floor, second in zip(floors, seconds, strict=True)]
        print(f"  second run / floor, {label:<11} rounds {' '.join(f'{r:.2f}x' for r in ratios)}"
              f'  median {statistics.median(ratios):.2f}x  (goal <= 1.2x)')
    unchanged = all(second[3:5] == (0, 0) for second in seconds)
    print('  second runs changed=0: ' + ('yes' if unchanged else 'NO'))
    return all(floor[4] == 0 for floor in floors) and first[3:5] == (count, 0) and unchanged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=100)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--strategies', default='linear,mitogen_linear',
                        help='ansible strategies to run the benchmark with, comma-separated')
    args = parser.parse_args()
    print(f'modules benchmark: {args.count} shares in one loop, ansible-playbook run twice, '
          f'against a no-op module over the same {args.count} items')
    with tempfile.TemporaryDirectory() as tmp:
        sim = Appliance(Path(tmp) / 'tls').start()
        try:
            ok = [bench(sim, Path(tmp), strategy, args.count, args.rounds)
                  for strategy in args.strategies.split(',')]
        finally:
            sim.stop()
    return 0 if all(ok) else 1


if __name__ == '__main__':
    sys.exit(main())
