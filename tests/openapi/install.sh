#!/usr/bin/env bash
# Install the OpenAPI validator the agreement test runs, when it is missing,
# and print the node_modules directory to use.
#
#   tests/openapi/install.sh
#
# @seriousme/openapi-schema-validator, pinned, into tests/openapi/node_modules
# (git-ignored) with --no-save --no-package-lock: no package.json, no
# lockfile is written.  It checks a document against the OpenAPI
# Initiative's published JSON Schema for 3.1 (and resolves every $ref).
# Debian 12 packages no OpenAPI validator for Python (README, "The API
# description"), so this one comes from the npm registry, as the browser
# test's playwright-core does.  Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
VALIDATOR=@seriousme/openapi-schema-validator
VALIDATOR_VERSION=2.11.0

say() { printf 'openapi install: %s\n' "$*" >&2; }
die() { printf 'openapi install: error: %s\n' "$*" >&2; exit 1; }

for t in node npm; do
    command -v "$t" >/dev/null || die "$t is not installed (scripts/install-deps.sh installs nodejs and npm)"
done
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || die "Node.js $major is too old (18 or newer needed)"

modules=$here/node_modules
mkdir -p "$modules"
(
    flock 9
    have=$(node -e 'try { process.stdout.write(require(process.argv[1] + "/package.json").version) } catch (e) {}' \
        "$modules/$VALIDATOR")
    if [ "$have" != "$VALIDATOR_VERSION" ]; then
        say "installing $VALIDATOR@$VALIDATOR_VERSION into $modules"
        cd "$here"
        npm install --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
            --loglevel=error --prefix "$here" "$VALIDATOR@$VALIDATOR_VERSION" >&2 || exit 1
    fi
) 9>"$modules/.cb-install.lock" || die "npm install failed"
rm -f "$here/package-lock.json"
[ -r "$modules/$VALIDATOR/bin/validate-api-cli.js" ] || die "$VALIDATOR has no bin/validate-api-cli.js"
printf '%s\n' "$modules"
