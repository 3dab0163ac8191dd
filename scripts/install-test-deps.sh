#!/usr/bin/env bash
# Installs everything Switchboard's test suite needs besides the Rust toolchain.
# CI runs it as root on a fresh Debian machine; developers may run it too.
# Idempotent: a second run does nothing when everything is already current.
#
#   scripts/install-test-deps.sh
#
# Environment:
#   FORCE=1   reinstall the Node test dependencies even if they look current
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "install-test-deps: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# =============================================================================
# System packages (apt)
# -----------------------------------------------------------------------------
# >>> OTHER ENGINEERS: ADD apt PACKAGES HERE (e.g. chromium for browser tests).
# Append package names to APT_PACKAGES; install_apt_packages installs the
# missing ones (apt-get update + install --no-install-recommends, root only)
# and does nothing when all are already installed. Put any extra per-package
# setup right after the install_apt_packages call below.
# =============================================================================
APT_PACKAGES=(
  # Headless browser of the dashboard's end-to-end tests (tests/e2e, driven by playwright-core
  # with executablePath /usr/bin/chromium; no browser is ever downloaded by npm).
  chromium
  chromium-driver
)

install_apt_packages() {
  [ "${#APT_PACKAGES[@]}" -gt 0 ] || return 0
  local missing=() pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt packages already installed: ${APT_PACKAGES[*]}"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "need root to apt-get install: ${missing[*]}"
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_apt_packages
# (per-package setup for apt packages goes here)

# =============================================================================
# Node test projects: `npm ci` in tests/<name> (exactly what package-lock.json
# pins), skipped when node_modules was installed by this script from the same
# package.json + package-lock.json with the same Node major version.
#   npm_ci_project <dir under tests/> <package whose package.json proves the install>
# =============================================================================
npm_ci_project() {
  local name="$1" probe="$2"
  local dir="$REPO_ROOT/tests/$name"
  local stamp="$dir/node_modules/.switchboard-install-stamp"

  command -v node >/dev/null || die "node is not installed (Node.js >= 20 is required for tests/$name)"
  command -v npm >/dev/null || die "npm is not installed (required for tests/$name)"
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$node_major" -ge 20 ] || die "Node.js >= 20 required for tests/$name, found $(node --version)"
  [ -f "$dir/package-lock.json" ] || die "$dir/package-lock.json is missing"

  local want
  want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1) node${node_major}"
  if [ "${FORCE:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && [ -f "$dir/node_modules/$probe/package.json" ]; then
    log "tests/$name/node_modules is current, skipping npm ci"
    return 0
  fi

  log "npm ci in tests/$name"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp"
  log "tests/$name: installed $probe $(node -p "require('$dir/node_modules/$probe/package.json').version")"
}

# =============================================================================
# tests/oidc-provider: Node project running the oidc-provider test
# authorization server (see tests/oidc-provider/README.md). Needs Node >= 20
# and npm; installs exactly what package-lock.json pins (npm ci).
# =============================================================================
install_oidc_provider_deps() {
  local dir="$REPO_ROOT/tests/oidc-provider"
  local stamp="$dir/node_modules/.switchboard-install-stamp"

  command -v node >/dev/null || die "node is not installed (Node.js >= 20 is required for tests/oidc-provider)"
  command -v npm >/dev/null || die "npm is not installed (required for tests/oidc-provider)"
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$node_major" -ge 20 ] || die "Node.js >= 20 required for tests/oidc-provider, found $(node --version)"
  [ -f "$dir/package-lock.json" ] || die "$dir/package-lock.json is missing"

  # node_modules is current when it was installed by this script from the same
  # package.json + package-lock.json with the same Node major version.
  local want
  want="$(cat "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1) node${node_major}"
  if [ "${FORCE:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && [ -f "$dir/node_modules/oidc-provider/package.json" ]; then
    log "tests/oidc-provider/node_modules is current, skipping npm ci"
    return 0
  fi

  log "npm ci in tests/oidc-provider"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" >"$stamp"
  log "tests/oidc-provider: installed oidc-provider $(node -p "require('$dir/node_modules/oidc-provider/package.json').version")"
}

install_oidc_provider_deps

# =============================================================================
# tests/e2e: the dashboard's browser tests (crates/cli/tests/dashboard_e2e.rs):
# playwright-core drives the apt chromium above, axe-core checks accessibility.
# playwright-core downloads no browser on install.
# =============================================================================
npm_ci_project e2e playwright-core

# =============================================================================
# tests/twitter-text: the official twitter-text (npm, the reference implementation of
# X's post length), the judge of crates/core/tests/twitter_text/reference.rs.
# =============================================================================
npm_ci_project twitter-text twitter-text

log "done"
