#!/usr/bin/env bash
# Installs, idempotently and with no prompt, what GoTTA's notebooks need:
#   Debian's jupyter-nbconvert, jupyter-client, python3-nbclient, jupyter-notebook (to open them in a browser),
#   GoNB v0.11.5 (the Go kernel), goimports and gopls v0.23.0, and registers the GoNB kernel.
# Usage: bash notebooks/setup.sh
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
GONB_VERSION=v0.11.5
GOPLS_VERSION=v0.23.0

need_apt=()
for pkg in jupyter-nbconvert jupyter-client python3-nbclient jupyter-notebook; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "setup: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

gobin="$(go env GOPATH)/bin"
have_version() { # have_version BINARY WANT: the module version compiled into BINARY
  [ -x "$gobin/$1" ] && go version -m "$gobin/$1" 2>/dev/null | awk '$1=="mod"{print $3}' | grep -qx "$2"
}
# `go install ...@latest` is refused by the module proxy here, so install from inside a throwaway module.
install_tool() { # install_tool PACKAGE MODULE VERSION
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && go mod init gotta-tools >/dev/null 2>&1 && GOFLAGS=-mod=mod go get "$2@$3" >/dev/null 2>&1 &&
    GOFLAGS=-mod=mod go install "$1")
  rm -rf "$tmp"
}
have_version gonb "$GONB_VERSION" || { echo "setup: installing GoNB $GONB_VERSION"; install_tool github.com/janpfeifer/gonb github.com/janpfeifer/gonb "$GONB_VERSION"; }
have_version gopls "$GOPLS_VERSION" || { echo "setup: installing gopls $GOPLS_VERSION"; install_tool golang.org/x/tools/gopls golang.org/x/tools/gopls "$GOPLS_VERSION"; }
[ -x "$gobin/goimports" ] || { echo "setup: installing goimports"; install_tool golang.org/x/tools/cmd/goimports golang.org/x/tools v0.39.0; }

# Register the kernel (idempotent: gonb --install rewrites its kernel.json).
if ! jupyter kernelspec list 2>/dev/null | grep -q '^ *gonb '; then
  echo "setup: registering the GoNB kernel"
  "$gobin/gonb" --install --logtostderr >/dev/null 2>&1 || "$gobin/gonb" --install
fi
echo "setup: ok (gonb $("$gobin/gonb" --version 2>/dev/null | head -1 || echo "$GONB_VERSION"), kernel: $(jupyter kernelspec list 2>/dev/null | awk '$1=="gonb"{print $2}'))"
