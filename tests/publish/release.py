"""Build the release artifacts of one version into one directory (make release).

    acme-nas-<version>.tar.gz                     the collection (ansible-galaxy collection build)
    acme_cinder_driver-<version>.tar.gz           the driver's sdist
    acme_cinder_driver-<version>-py3-none-any.whl the driver's wheel, built from that sdist
    SHA256SUMS                                    sha256sum -c checks them

galaxy.yml's ``version`` is the release's version; the driver's
(``driver/acme_cinder/__init__.py``, which driver/pyproject.toml reads) must equal it, else
nothing is built. The driver is built from a copy of driver/ (the client symlink resolved, the
LICENSE added) by pypa/build and setuptools, pinned in release-requirements.txt (their
virtualenv: .cache/release/, made once per pin file).
"""

from __future__ import annotations

import argparse
import ast
import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PINS = Path(__file__).with_name('release-requirements.txt')
CACHE = ROOT / '.cache' / 'release'
BIN = Path(sys.executable).parent
ARTIFACT_GLOBS = ('acme-nas-*.tar.gz', 'acme_cinder_driver-*', 'SHA256SUMS')


class ReleaseError(Exception):
    """The checkout cannot be released as it is."""


def collection_version(root: Path = ROOT) -> str:
    return str(yaml.safe_load((root / 'galaxy.yml').read_text())['version'])


def driver_version(root: Path = ROOT) -> str:
    """``__version__`` of driver/acme_cinder/__init__.py, read without importing the package."""
    tree = ast.parse((root / 'driver' / 'acme_cinder' / '__init__.py').read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == '__version__'
                for target in node.targets):
            return str(ast.literal_eval(node.value))
    raise ReleaseError('driver/acme_cinder/__init__.py sets no __version__')


def release_version(root: Path = ROOT) -> str:
    """The one version of the release; the driver's must be the collection's."""
    collection, driver = collection_version(root), driver_version(root)
    if collection != driver:
        raise ReleaseError(f"galaxy.yml says {collection}, driver/acme_cinder/__init__.py says "
                           f"{driver}: set both to the release's version")
    return collection


def run(*cmd: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; its output is shown only when it fails."""
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False,
                            **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise ReleaseError(f'{" ".join(map(str, cmd))} failed ({result.returncode}):\n'
                           f'{result.stdout}{result.stderr}')
    return result


def build_python() -> Path:
    """The interpreter of the pinned build tools' virtualenv, made when missing or outdated."""
    key = hashlib.sha256(PINS.read_bytes()).hexdigest()[:12]
    venv = CACHE / f'venv-{key}'
    python = venv / 'bin' / 'python'
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / 'venv.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / '.complete').exists():
            shutil.rmtree(venv, ignore_errors=True)
            run(sys.executable, '-m', 'venv', venv)
            run(python, '-m', 'pip', 'install', '-q', '--disable-pip-version-check',
                '-r', PINS)
            (venv / '.complete').touch()
    return python


def source_date_epoch() -> dict[str, str]:
    """SOURCE_DATE_EPOCH of the last commit (the wheel's file times) in a git checkout."""
    result = subprocess.run(['git', '-C', str(ROOT), 'log', '-1', '--format=%ct'],
                            capture_output=True, text=True, check=False)
    epoch = result.stdout.strip()
    return {'SOURCE_DATE_EPOCH': epoch} if result.returncode == 0 and epoch else {}


def build_driver(out: Path) -> list[Path]:
    """sdist, then the wheel from it, of a copy of driver/ whose client symlink is a file."""
    env = {'PATH': f'{BIN}:/usr/bin:/bin', 'LC_ALL': 'C.UTF-8', **source_date_epoch()}
    with tempfile.TemporaryDirectory(prefix='acme-release-') as work:
        source = Path(work) / 'driver'
        shutil.copytree(ROOT / 'driver', source, symlinks=False,
                        ignore=shutil.ignore_patterns('*.egg-info', 'build', 'dist',
                                                      '__pycache__'))
        shutil.copy(ROOT / 'LICENSE', source)  # setuptools ships LICENSE* in sdist and wheel
        run(build_python(), '-m', 'build', '--no-isolation', '--outdir', out, source, env=env)
    return sorted(out.glob('acme_cinder_driver-*'))


def build_collection(out: Path) -> Path:
    run(BIN / 'ansible-galaxy', 'collection', 'build', '--force', '--output-path', out, ROOT)
    (tarball,) = out.glob('acme-nas-*.tar.gz')
    return tarball


def write_checksums(out: Path, artifacts: list[Path]) -> Path:
    lines = [f'{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n' for p in artifacts]
    checksums = out / 'SHA256SUMS'
    checksums.write_text(''.join(lines))
    return checksums


def build_release(out: Path) -> list[Path]:
    """Every artifact of the checkout's version in ``out`` (earlier artifacts there removed)."""
    version = release_version()
    out.mkdir(parents=True, exist_ok=True)
    for pattern in ARTIFACT_GLOBS:
        for old in out.glob(pattern):
            old.unlink()
    artifacts = [build_collection(out), *build_driver(out)]
    unexpected = [p.name for p in artifacts if version not in p.name]
    if unexpected or len(artifacts) != 3:
        raise ReleaseError(f'expected the collection, the sdist and the wheel of {version}, '
                           f'built {[p.name for p in artifacts]}')
    return [*artifacts, write_checksums(out, artifacts)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--output', type=Path, default=ROOT / 'dist',
                        help='directory of the artifacts (default: dist/ of the checkout)')
    args = parser.parse_args(argv)
    try:
        artifacts = build_release(args.output.resolve())
    except ReleaseError as error:
        print(f'release: {error}', file=sys.stderr)
        return 1
    for artifact in artifacts:
        print(artifact)
    return 0


if __name__ == '__main__':
    sys.exit(main())
