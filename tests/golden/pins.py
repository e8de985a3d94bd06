"""The reference versions the committed golden files were made with.

requirements.lock pins what CI installs (scripts/oracles.sh); requirements-torch.txt
records bitsandbytes and torch, installed by hand. A generator that finds another
version installed skips (exit 77) with a message instead of failing: the committed
files stay the truth, and a drift is reported by scripts/check_references.sh, which
sets QTL_GOLDEN_ANY_VERSION=1 to run the generators against the latest versions.
"""
import os
import re
import sys
from importlib.metadata import version

HERE = os.path.dirname(os.path.abspath(__file__))
PIN_FILES = ("requirements.lock", "requirements-torch.txt")


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions():
    """name -> exact version, from the pin files' `name==version` lines."""
    pins = {}
    for file in PIN_FILES:
        with open(os.path.join(HERE, file)) as f:
            for line in f:
                match = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", line)
                if match:
                    pins[_normalize(match[1])] = match[2]
    return pins


def require_pinned(*names):
    """Exit 77 unless each named package is installed at its pinned version (a local
    suffix such as torch's +cpu is ignored)."""
    if os.environ.get("QTL_GOLDEN_ANY_VERSION") == "1":
        return
    pins = pinned_versions()
    wrong = [f"{name} {version(name)} (pinned: {pins[_normalize(name)]})" for name in names
             if version(name).split("+")[0] != pins[_normalize(name)]]
    if wrong:
        print(f"{', '.join(wrong)}: the committed vectors were made with the pinned versions; "
              "skipping (scripts/oracles.sh installs them, scripts/check_references.sh reports drift)")
        sys.exit(77)
