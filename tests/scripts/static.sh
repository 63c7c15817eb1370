#!/usr/bin/env bash
# Static checks of the C sources outside the test suites (lib, cgi, worker,
# tools, the fakes and the fuzz targets):
#  - the calls the house style bans: sprintf, vsprintf, strcpy, strcat, gets,
#    atoi, atol, atoll, strtok (use snprintf, util_strlcpy, buf_*,
#    util_parse_ll, strtok_r);
#  - SQL built with snprintf (statements are constant text with $n
#    parameters: an snprintf whose format holds SELECT, INSERT INTO,
#    UPDATE ... SET or DELETE FROM);
#  - cppcheck (warning and portability classes) with no finding; its
#    suppressions are in tests/cppcheck.supp, each with its reason.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$repo" || exit 1
mapfile -t srcs < <(ls lib/*.[ch] cgi/*.c worker/*.[ch] tools/*.[ch] tools/admin/*.[ch] tools/bench/*.c \
    tests/fakes/*.c tests/fakes/*/*.[ch] tests/fuzz/*.c 2>/dev/null)
fail=0

# Comments are skipped: a line whose first non-blank is * or //.
hits=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll|strtok)[[:space:]]*\(' "${srcs[@]}" |
    grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|//|/\*)' || true)
if [ -n "$hits" ]; then
    echo "static: banned calls:"; printf '    %s\n' "$hits"; fail=1
fi

hits=$(perl -0777 -ne '
    while (/\bv?snprintf\s*\(((?:[^;"]|"(?:[^"\\]|\\.)*")*?)\);/sg) {
        my ($args, $at) = ($1, $-[0]);
        my $text = join "", ($args =~ /"((?:[^"\\]|\\.)*)"/g);
        if ($text =~ /\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b/) {
            my $line = 1 + (substr($_, 0, $at) =~ tr/\n//);
            print "$ARGV:$line: $text\n";
        }
    }' "${srcs[@]}")
if [ -n "$hits" ]; then
    echo "static: SQL built with snprintf (use constant text and \$n parameters):"
    printf '    %s\n' "$hits"; fail=1
fi

if ! command -v cppcheck >/dev/null 2>&1; then
    echo "static: cppcheck is not installed (make deps installs it)"; exit 1
fi
# Anything cppcheck prints fails the check: a finding, or its own error
# (a suppression it cannot read, a configuration it needs).
out=$(cppcheck -q -j"$(nproc)" --std=c11 --enable=warning,portability --inline-suppr \
    --error-exitcode=1 -Ilib -Itests/fakes/common -D__GNUC__ \
    --suppressions-list=tests/cppcheck.supp --include=/usr/include/cjson/cJSON.h \
    --template='{file}:{line}: {severity}: {message} [{id}]' \
    lib cgi worker tools tests/fakes tests/fuzz 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    echo "static: cppcheck:"; printf '    %s\n' "$out"; fail=1
fi

(( fail == 0 )) && echo "static: ok: no banned call, no SQL built with snprintf, cppcheck clean (${#srcs[@]} files)"
exit "$fail"
