"""Print pip requirements that pin every declared lower bound: the oldest versions segutils claims.

The run-time dependencies of ``pyproject.toml`` and the dev tools the unit tests use are pinned to
the version after ``>=`` (``keras>=3.5`` becomes ``keras==3.5``). ``.ci/env oldest`` installs the
result, so the bounds users read in ``pyproject.toml`` are the versions CI tests.

With ``--declared``: the run-time and dev requirements as declared, for ``.ci/env colab`` to
install at their newest versions before it adds segutils itself.
"""

import re
import sys
from pathlib import Path

import tomllib

# Dev tools the unit tests need. The rest of the dev extra serves other checks: jupyterlab and
# playwright the browser test, jax the backend tests, ruff the lint, which run in the main env.
TEST_TOOLS = ("nbval", "nbclient", "nbformat", "ipykernel", "pytest", "pytest-xdist", "hypothesis",
              "pyyaml")

BOUND = re.compile(r"^([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)\s*>=\s*([0-9][0-9A-Za-z.]*)$")


def _project(pyproject):
    return tomllib.loads(Path(pyproject).read_text())["project"]


def pins(pyproject):
    project = _project(pyproject)
    dev = {BOUND.match(r).group(1): r for r in project["optional-dependencies"]["dev"]
           if BOUND.match(r)}
    wanted = list(project["dependencies"]) + [dev[name] for name in TEST_TOOLS]
    out = []
    for requirement in wanted:
        match = BOUND.match(requirement.strip())
        if match is None:
            raise SystemExit(f"{pyproject}: {requirement!r} has no plain '>=' lower bound; "
                             "write it as 'name>=version' so the oldest environment can pin it")
        out.append(f"{match.group(1)}=={match.group(2)}")
    return out


def declared(pyproject):
    project = _project(pyproject)
    return list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])


if __name__ == "__main__":
    args, show = sys.argv[1:], pins
    if args[:1] == ["--declared"]:
        args, show = args[1:], declared
    print("\n".join(show(args[0] if args else "pyproject.toml")))
