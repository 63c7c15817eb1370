#!/usr/bin/env bash
# Install what the browser test and the benchmark's latency client need, when
# it is missing, and print the node_modules directory to use.
#
#   tests/browser/install.sh [--chromium]
#
# npm packages at pinned versions into tests/browser/node_modules (git-ignored),
# with --no-save --no-package-lock: no package.json, no lockfile is written.
# Both packages are always installed together: an `npm install --no-save`
# prunes whatever else it finds there.  Playwright never downloads a browser
# here (it drives Debian's /usr/bin/chromium).  Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# playwright-core 1.65 needs Node >= 20; Debian 12's own nodejs is 18.
PW_NODE20=1.65.1
PW_NODE18=1.55.0
WS_VERSION=8.23.0

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

apt_install() {
    [ "$(id -u)" -eq 0 ] || die "$* missing and not root: apt-get install $*"
    say "installing $* (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1; } \
        || die "apt-get install $* failed"
}

if [ "${1:-}" = --chromium ]; then
    [ -x "${CB_CHROMIUM:-/usr/bin/chromium}" ] || apt_install chromium
    [ -x "${CB_CHROMIUM:-/usr/bin/chromium}" ] || die "no Chromium at ${CB_CHROMIUM:-/usr/bin/chromium}"
fi
command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm

major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || die "Node.js $major is too old (18 or newer needed)"
if [ "$major" -ge 20 ]; then pw=$PW_NODE20; else pw=$PW_NODE18; fi

modules=$here/node_modules
version_of() {
    node -e 'try { process.stdout.write(require(process.argv[1] + "/package.json").version) } catch (e) {}' "$modules/$1"
}
mkdir -p "$modules"
(
    flock 9
    if [ "$(version_of playwright-core)" != "$pw" ] || [ "$(version_of ws)" != "$WS_VERSION" ]; then
        say "installing playwright-core@$pw ws@$WS_VERSION into $modules"
        cd "$here"
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-save --no-package-lock --no-audit \
            --no-fund --ignore-scripts --loglevel=error --prefix "$here" \
            "playwright-core@$pw" "ws@$WS_VERSION" >&2 || exit 1
    fi
) 9>"$modules/.cb-install.lock" || die "npm install failed"
rm -f "$here/package-lock.json"
printf '%s\n' "$modules"
