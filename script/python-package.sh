#!/usr/bin/env bash
# Prints a PYTHONPATH under which `python3` imports the Python package PACKAGE at exactly
# VERSION: empty when the machine's own Python has it, else a cache directory into which it is
# pip-installed once, with its dependencies (under a lock: tests ask for it at once).
# Usage: script/python-package.sh PACKAGE VERSION [MODULE]   (MODULE: the import name, when it differs)
set -euo pipefail
package="${1:?usage: script/python-package.sh PACKAGE VERSION [MODULE]}"
version="${2:?usage: script/python-package.sh PACKAGE VERSION [MODULE]}"
module="${3:-$package}"
command -v python3 >/dev/null || { echo "python-package: python3 not found on PATH" >&2; exit 1; }
has() { PYTHONPATH="$1" python3 -c "import $module; assert $module.__version__ == '$version'" 2>/dev/null; }
if has ""; then
  echo ""
  exit 0
fi
cache="$HOME/.cache/zkml-py/$package-$version"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if ! has "$cache/py"; then
  echo "python-package: installing $package==$version into $cache/py" >&2
  rm -rf "$cache/py"
  python3 -m pip install --quiet --disable-pip-version-check --target "$cache/py.tmp" "$package==$version" >&2
  mv "$cache/py.tmp" "$cache/py"
  has "$cache/py" || { echo "python-package: $package==$version does not import after installing" >&2; exit 1; }
fi
echo "$cache/py"
