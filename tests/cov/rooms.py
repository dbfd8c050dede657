"""Line coverage per product room from a coverage JSON report (make coverage).

    rooms.py REPORT.json               covered/total lines and percent per room
    rooms.py --missing A.json B.json   lines A covers that B does not (exit 1 if any)

A room is the simulator (acme_appliance), the driver (acme_cinder) or the collection's plugins;
the driver's acme_client.py is a symlink to the plugins' client, measured there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOMS = {'appliance': 'acme_appliance', 'driver': 'acme_cinder', 'plugins': 'plugins'}


def room_of(path: str) -> tuple[str, str] | None:
    parts = Path(path).parts
    for room, marker in ROOMS.items():
        if marker in parts:
            return room, '/'.join(parts[parts.index(marker):])
    return None


def files(report: Path) -> dict[str, dict[str, tuple[set[int], int]]]:
    """{room: {file relative to its room: (covered line numbers, statements)}}. A file measured
    under two paths (the driver's acme_client.py link where it resolves to another checkout's
    client) is one file: its covered lines are merged."""
    data = json.loads(report.read_text())['files']
    out: dict[str, dict[str, tuple[set[int], int]]] = {room: {} for room in ROOMS}
    for path, entry in data.items():
        located = room_of(path)
        if located:
            room, name = located
            covered, statements = out[room].get(name, (set(), 0))
            out[room][name] = (covered | set(entry['executed_lines']),
                               max(statements, entry['summary']['num_statements']))
    return out


def summary(report: Path) -> None:
    for room, measured in files(report).items():
        covered = sum(len(lines) for lines, _statements in measured.values())
        total = sum(statements for _lines, statements in measured.values())
        print(f'{room:10} {100 * covered / total if total else 0:6.2f}%  {covered}/{total} lines')


def missing(first: Path, second: Path) -> int:
    a, b = files(first), files(second)
    gaps = 0
    for room in ROOMS:
        for name, (covered, _statements) in sorted(a[room].items()):
            lost = sorted(covered - b[room].get(name, (set(), 0))[0])
            if lost:
                gaps += len(lost)
                print(f'{room}: {name}: {lost}')
    print(f'{gaps} lines covered by {first.name} and not by {second.name}')
    return 1 if gaps else 0


if __name__ == '__main__':
    if sys.argv[1:2] == ['--missing'] and len(sys.argv) == 4:
        sys.exit(missing(Path(sys.argv[2]), Path(sys.argv[3])))
    if len(sys.argv) == 2:
        summary(Path(sys.argv[1]))
        sys.exit(0)
    sys.exit(__doc__)
