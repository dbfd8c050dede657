"""Print the acme.nas lab report: phase wall times, peak memory, topology, smoke results.

  lab/bin/report --state-dir lab/state [--netns acme-lab] [--final]

Reads STATE/phases.log ("PHASE EPOCH" lines), STATE/memory.json (lab/bin/lab-up's sampler),
STATE/smoke/report.json (written by the smoke role) and looks at the live lab (inside the
namespace only: ip netns exec). Stdlib only.
"""
import argparse
import json
import os
import subprocess
from pathlib import Path


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                              check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ''


def phases(state, final):
    lines = (state / 'phases.log').read_text().split() if (state / 'phases.log').exists() else []
    marks = [(lines[i], float(lines[i + 1])) for i in range(0, len(lines) - 1, 2)]
    out = []
    for (name, t0), nxt in zip(marks, marks[1:] + [None], strict=True):
        if nxt is None and name != 'end':
            out.append(f'  {name:<15} (running)')
        elif name != 'end':
            out.append(f'  {name:<15} {nxt[1] - t0:7.1f} s')
    if marks and marks[-1][0] == 'end':
        out.append(f'  {"total":<15} {marks[-1][1] - marks[0][1]:7.1f} s')
    return out


def memory(state):
    try:
        m = json.loads((state / 'memory.json').read_text())
    except (OSError, ValueError):
        return ['  (no samples)']
    lab_mib = m['peak_lab_pss_kib'] / 1024
    return [f'  lab processes (PSS, everything in the namespace): {lab_mib:.0f} MiB peak',
            f'  machine used: {m["peak_used_kib"] / 1024:.0f} MiB peak '
            f'({m["baseline_used_kib"] / 1024:.0f} MiB before make lab, {m["samples"]} samples)']


def topology(state, netns):
    out = []
    if netns not in run('ip', 'netns', 'list').split():
        return [f'  namespace {netns}: absent']
    addrs = run('ip', '-n', netns, '-br', 'addr').splitlines()
    out.append(f'  namespace {netns}: '
               + '; '.join(' '.join(a.split()[:1] + a.split()[2:3]) for a in addrs))
    if os.stat('/proc/self/ns/net').st_ino == os.stat(f'/run/netns/{netns}').st_ino:
        guard = 'not visible from inside the namespace (the final report, run outside, checks it)'
    else:
        routes = run('ip', 'route', 'show', 'type', 'blackhole')
        guard = 'yes' if '10.123.0.0/24' in routes else 'NO'
    out.append(f'  blackhole 10.123.0.0/24 in the root namespace: {guard}')
    out.append('  listeners inside the namespace:')
    for line in run('ip', 'netns', 'exec', netns, 'ss', '-H', '-ltnup').splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        proc = f[6].split('"')[1] if len(f) > 6 and '"' in f[6] else '?'
        local = f[4]
        host = local.rsplit(':', 1)[0]
        where = ('bridge' if host.lstrip('[').removeprefix('::ffff:').startswith('10.123.0.') else
                 'loopback' if host in ('127.0.0.1', '[::1]') else 'all namespace addresses')
        out.append(f'    {f[0]:<4} {local:<22} {proc:<18} {where}')
    for guest, name in (('guest', 'acme-volume-1'), ('volume2', 'acme-volume-2'),
                        ('compute', 'acme-compute-1')):
        pidfile = state / guest / 'qemu.pid'
        pid = pidfile.read_text().strip() if pidfile.exists() else ''
        running = bool(pid) and Path(f'/proc/{pid}').exists()
        out.append(f'  {name}: QEMU pid {pid} ' + ('running' if running else 'not running'))
    conf = state / 'control' / 'etc' / 'supervisord.conf'
    if conf.exists():
        out.append('  control plane (supervisord in the namespace):')
        status = run('ip', 'netns', 'exec', netns, 'supervisorctl', '-c', str(conf), 'status')
        out += ['    ' + s for s in status.splitlines()]
    return out


def smoke(state):
    path = state / 'smoke' / 'report.json'
    if not path.exists():
        return ['  (no smoke report: STATE/smoke/report.json not written)']
    data = json.loads(path.read_text())
    out = []
    for flow in data.get('flows', []):
        name = flow.get('name', flow.get('flow'))
        passed = flow.get('passed', flow.get('result') == 'passed')
        extra = ', '.join(f'{k}={v}' for k, v in flow.items()
                          if k not in ('name', 'flow', 'passed', 'result') and v != '')
        out.append(f'  {"PASS" if passed else "FAIL"}  {name}' + (f'  ({extra})' if extra else ''))
    for key, value in data.items():
        if key == 'checks':
            out += [f'  {check}: {val}' for check, val in value]
        elif key == 'attaches':
            out += attaches(value)
        elif key != 'flows':
            out.append(f'  {key}: {value}')
    return out


def crash(state):
    try:
        data = json.loads((state / 'crash.json').read_text())
    except (OSError, ValueError):
        return ['  (not run: STATE/crash.json not written)']
    return [f'  {data.get("host", "volume host")}: NFS mounts under the mount base before the '
            f'kill: {data["mounts_before_kill"]}, '
            f'after the restart (do_setup): {data["mounts_after_restart"]} '
            f'(cinder-volume pid {data.get("pid_before")} -> {data.get("pid_after")})']


ATTACH_COLUMNS = (('flow', 'flow', 16), ('volume', 'volume', 10), ('op', 'op', 5),
                  ('host', 'attach host', 15), ('mounted_on_attach_host', 'mounted there', 13),
                  ('volume_host_mounts', 'mounts on volume host', 21),
                  ('rule_while_attached', 'rule attached', 13),
                  ('rule_after_detach', 'rule after detach', 17),
                  ('stranger_refused', 'stranger refused', 16))


def attaches(rows):
    """One line per attach: where the share was mounted and what the NFS server allowed."""
    out = ['  attaches (os-brick on the attach host, as Nova):',
           '    ' + ' '.join(f'{title:<{width}}' for _key, title, width in ATTACH_COLUMNS)]
    for row in rows:
        cells = [str(row.get(key, ''))[:8] if key == 'volume' else str(row.get(key, ''))
                 for key, _title, _width in ATTACH_COLUMNS]
        widths = [width for _key, _title, width in ATTACH_COLUMNS]
        out.append('    ' + ' '.join(f'{c:<{w}}' for c, w in zip(cells, widths, strict=True)))
    return out


def cluster(state):
    path = state / 'cluster-report.txt'
    if not path.exists():
        return ['  (not run: make lab-cluster writes STATE/cluster-report.txt)']
    return ['  ' + line for line in path.read_text().splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--state-dir', required=True, type=Path)
    ap.add_argument('--netns', default='acme-lab')
    ap.add_argument('--final', action='store_true')
    a = ap.parse_args()
    lines = ['ACME NAS lab report', '===================', 'Smoke:'] + smoke(a.state_dir)
    lines += ['cinder-volume SIGKILLed with a share mounted, restarted:'] + crash(a.state_dir)
    lines += ['Active-active cluster (make lab-cluster):'] + cluster(a.state_dir)
    lines += ['Topology:'] + topology(a.state_dir, a.netns)
    lines += ['Phases (wall time):'] + phases(a.state_dir, a.final)
    lines += ['Peak memory:'] + memory(a.state_dir)
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
