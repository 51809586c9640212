"""Guards on the shape of the code."""

import subprocess
import sys


def test_importing_the_domain_loads_no_flask():
    code = (
        "import sys, pkgutil, importlib, ballots\n"
        "for m in pkgutil.walk_packages(ballots.__path__, 'ballots.'):\n"
        "    if '.migrations' not in m.name: importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n == 'flask' or n.startswith(('flask.', 'flask_', 'werkzeug')))\n"
        "print(','.join(bad)); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"ballots imported {result.stdout.strip()} {result.stderr}"
