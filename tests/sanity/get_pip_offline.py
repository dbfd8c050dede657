"""Stand-in for ansible-test's pip bootstrap script (get-pip-X.Y.py).

ansible-test downloads get-pip from ci-files.testing.ansible.com, which this
network cannot reach (PyPI can). ansible-test documents saving the script by
hand to ~/.ansible/test/cache/get_pip_X_Y.py; tests/sanity/run.sh saves this
file there instead. It takes get-pip's command line: it installs the pip that
ships with Python (ensurepip), then lets that pip install the requested
packages (pip==24.2 ...) from the package index.
"""

import subprocess
import sys

GET_PIP_ONLY = ('--no-setuptools', '--no-wheel')


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    # ensurepip in a child: in-process it sets PIP_CONFIG_FILE=/dev/null,
    # which would hide the machine's pip configuration (index, CA bundle).
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
    sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))


if __name__ == '__main__':
    main()
