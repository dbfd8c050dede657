"""Benchmark (not a test): cost of lookup-by-name and list at 10, 100 and 1,000 shares.

Serves the real simulator over HTTPS on loopback in this process (the tests' appliance), fills
it to each size through the one client, and prints the median of repeated calls. Lookup by
exact name must stay flat.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.collection import collections_path  # noqa: E402

collections_path()
from tests.support.appliance import Appliance  # noqa: E402

SIZES = (10, 100, 1000)
REPEAT = 50


def median_ms(call, repeat=REPEAT) -> float:
    samples = []
    for _sample in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sim = Appliance(Path(tmp) / 'tls').start().reset(Path(tmp) / 'bench')
        try:
            client = sim.client()
            count = 0
            print(f'{"shares":>7} {"create/s":>9} {"lookup ms":>10} {"list ms":>9}')
            for size in SIZES:
                start = time.perf_counter()
                for i in range(count, size):
                    client.shares.create(f'bench-{i:04d}', 'pool1', quota_bytes=1 << 20)
                rate = (size - count) / (time.perf_counter() - start)
                count = size
                target = f'bench-{size // 2:04d}'
                lookup = median_ms(lambda t=target: client.shares.find(t, pool='pool1'))
                listing = median_ms(lambda: client.shares.list(pool='pool1'), repeat=10)
                print(f'{size:>7} {rate:>9.0f} {lookup:>10.2f} {listing:>9.2f}')
        finally:
            sim.stop()


if __name__ == '__main__':
    main()
