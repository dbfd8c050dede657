"""requirements.txt names what the plugins import, no more, with the client's minimums.

A static scan of every import in plugins/: importing the modules in a clean virtualenv would
prove nothing, as the client guards its ``import urllib3`` (HAS_URLLIB3) and imports without it.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ansible_collections.acme.nas.plugins.doc_fragments.acme import ModuleDocFragment
from ansible_collections.acme.nas.plugins.module_utils.acme_client import MIN_VERSIONS

REPO = Path(__file__).resolve().parents[3]
# Provided where the plugins run: ansible-core, and the collection itself.
PROVIDED = {'__future__', 'ansible', 'ansible_collections'}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every absolute import in ``path``, also inside try and functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition('.')[0])
    return names


def third_party_imports() -> dict[str, list[str]]:
    """Imported top-level module -> the plugin files importing it (stdlib and PROVIDED left out)."""
    found: dict[str, list[str]] = {}
    for path in sorted((REPO / 'plugins').rglob('*.py')):
        for name in imported_modules(path) - PROVIDED - sys.stdlib_module_names:
            found.setdefault(name, []).append(path.relative_to(REPO).as_posix())
    return found


def requirements(lines: list[str]) -> dict[str, Requirement]:
    parsed = (Requirement(line) for line in lines if line.strip() and not line.startswith('#'))
    return {canonicalize_name(req.name): req for req in parsed}


def requirements_txt() -> dict[str, Requirement]:
    return requirements((REPO / 'requirements.txt').read_text().splitlines())


def test_requirements_txt_names_exactly_the_distributions_plugins_import() -> None:
    imports = third_party_imports()
    assert 'urllib3' in imports, 'the scan found no import of urllib3: it is broken'
    distributions = packages_distributions()
    unknown = sorted(name for name in imports if name not in distributions)
    assert unknown == [], f'no installed distribution provides {unknown}'
    needed = {canonicalize_name(dist) for name in imports for dist in distributions[name]}
    assert sorted(requirements_txt()) == sorted(needed)


def test_minimums_are_the_ones_the_client_enforces() -> None:
    assert {name: str(req.specifier) for name, req in requirements_txt().items()} == {
        name: '>=' + '.'.join(map(str, version)) for name, version in MIN_VERSIONS}


def test_module_docs_and_the_driver_state_the_same_requirements() -> None:
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['requirements']
    driver = tomllib.loads((REPO / 'driver' / 'pyproject.toml').read_text())
    wanted = requirements_txt()
    assert requirements([line.replace(' ', '') for line in documented]) == wanted
    assert requirements(driver['project']['dependencies']) == wanted
