#!/usr/bin/env bash
# Executes notebooks headless with the GoNB kernel and writes their HTML to notebooks/html/.
# Usage: bash notebooks/export.sh [NOTEBOOK.ipynb ...]   (default: every notebooks/*.ipynb)
# Environment: GOTTA_QUICK=1 asks notebooks for their quick mode; TIMEOUT (seconds per cell, default 1800).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH)/bin"
# GoNB cells build inside a Go workspace that uses this repository; -mod=mod is not allowed in workspace mode.
unset GOFLAGS
export GOMLX_NO_AUTO_INSTALL=1
command -v gonb >/dev/null || { echo "export.sh: gonb not found: run notebooks/setup.sh first" >&2; exit 1; }
mkdir -p "$here/html"
nbs=("$@")
[ ${#nbs[@]} -gt 0 ] || nbs=("$here"/*.ipynb)
status=0
for nb in "${nbs[@]}"; do
  nb="$(cd "$(dirname "$nb")" && pwd)/$(basename "$nb")"
  name="$(basename "$nb" .ipynb)"
  start=$(date +%s)
  echo "export.sh: executing $name"
  # Execute in the notebook's own folder (GONB_DIR), write the HTML export with outputs; the .ipynb is left as is.
  if (cd "$(dirname "$nb")" && jupyter nbconvert --to html --execute \
        --ExecutePreprocessor.kernel_name=gonb --ExecutePreprocessor.timeout="${TIMEOUT:-1800}" \
        --output-dir "$here/html" --output "$name" "$nb"); then
    echo "export.sh: $name -> html/$name.html ($(( $(date +%s) - start )) s)"
  else
    echo "export.sh: $name FAILED" >&2
    status=1
  fi
done
exit $status
