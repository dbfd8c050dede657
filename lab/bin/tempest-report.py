"""Summarise a tempest subunit stream: ran/passed/failed/skipped/wall time, every skip with
its reason, every failure with the last lines of its traceback.

  tempest-report.py STREAM [--wall SECONDS] [--exclude lab/tempest/exclude.txt]

Runs with the tempest venv's Python (python-subunit and testtools are there).
"""
import argparse
import collections
import sys

import subunit
import testtools


def load(path: str) -> dict:
    """Final status and details of every test in the stream (setUpClass errors included)."""
    tests = {}
    with open(path, 'rb') as stream:
        case = subunit.ByteStreamToStreamResult(stream, non_subunit_name='stdout')
        result = testtools.StreamToDict(lambda t: tests.__setitem__(t['id'], t))
        result.startTestRun()
        case.run(result)
        result.stopTestRun()
    return tests


def reason(test: dict) -> str:
    detail = test['details'].get('reason')
    return detail.as_text().strip() if detail else '(no reason given)'


def traceback_tail(test: dict, lines: int = 6) -> str:
    detail = test['details'].get('traceback')
    text = detail.as_text().strip().splitlines() if detail else ['(no traceback)']
    return '\n'.join('      ' + line for line in text[-lines:])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('stream')
    ap.add_argument('--wall', type=float, default=0.0)
    ap.add_argument('--exclude', default='')
    a = ap.parse_args()
    tests = {i: t for i, t in load(a.stream).items() if t['status'] != 'exists'}
    by_status = collections.Counter(t['status'] for t in tests.values())
    failed = by_status['fail'] + by_status['uxsuccess']
    passed = by_status['success'] + by_status['xfail']
    print(f"{'ran':>6} {'passed':>7} {'failed':>7} {'skipped':>8} {'wall time':>10}")
    print(f"{len(tests):>6} {passed:>7} {failed:>7} {by_status['skip']:>8} {a.wall:>9.0f}s")
    skips = collections.defaultdict(list)
    for test_id, test in sorted(tests.items()):
        if test['status'] == 'skip':
            skips[reason(test)].append(test_id)
    print(f'\nSkipped ({by_status["skip"]}), by reason:')
    for why, ids in sorted(skips.items()):
        print(f'  {len(ids):>3}  {why}')
        for test_id in ids:
            print(f'         {test_id}')
    if a.exclude:
        with open(a.exclude) as handle:
            rules = [line.rstrip() for line in handle if line.strip()]
        print('\nExcluded before the run (lab/tempest/exclude.txt):')
        print('\n'.join(f'  {line}' for line in rules))
    if failed:
        print(f'\nFailed ({failed}):')
        for test_id, test in sorted(tests.items()):
            if test['status'] in ('fail', 'uxsuccess'):
                print(f'  {test_id}\n{traceback_tail(test)}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
