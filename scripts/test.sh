#!/usr/bin/env bash
# The test command of README.md: every package, pure-Go backend, nothing downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS=-mod=mod GOMLX_BACKEND="${GOMLX_BACKEND:-go}" GOMLX_NO_AUTO_INSTALL=1
go test -count=1 -timeout 60m ./... "$@"
