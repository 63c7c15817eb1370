#!/usr/bin/env bash
# The JSON Schema of form definitions (docs/schemas/form-definition.schema.json)
# and the broker's one validator (lib/formdef.c, run by `cb-admin
# form-validate`) give the same verdicts on the fixtures:
#   - every valid fixture (docs/examples/forms/*.json and the contact form of
#     docs/examples/) passes both;
#   - every invalid one (tests/fixtures/forms/invalid/, EXPECT names each
#     file's first error) is refused by both, cb-admin exits 1 naming the
#     expected JSON pointer, and the schema's errors include that place;
#     a line marked validator-only is a rule JSON Schema cannot state (field
#     names unique): the schema passes it, the validator refuses it.
# The same for the Salesforce mapping schema against `cb-admin
# mapping-validate` when tests/fixtures/mappings/ exists.
# The schema is checked by Debian's python3-jsonschema (Draft 2020-12).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
admin=${CB_BUILD:-$repo/build}/bin/cb-admin
py=/usr/bin/python3
fail=0
bad() { echo "schema-agree: $*"; fail=1; }

[ -x "$admin" ] || { echo "schema-agree: no $admin (build first)"; exit 1; }
"$py" -c 'import jsonschema' 2>/dev/null ||
    { echo "schema-agree: python3-jsonschema missing (scripts/install-deps.sh)"; exit 1; }

# schema_errors SCHEMA FILE: the places the schema finds wrong, one JSON
# pointer a line (a missing, extra or badly named member is named by its
# own pointer).
schema_errors() {
    "$py" - "$1" "$2" <<'PY'
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
try:
    doc = json.load(open(sys.argv[2]))
except ValueError:
    print(""); sys.exit(0)
def ptr(path):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
for e in Draft202012Validator(schema).iter_errors(doc):
    base = ptr(e.absolute_path)
    if "propertyNames" in e.absolute_schema_path:
        print(base + ptr([e.instance]))
    elif e.validator == "required":
        for k in e.validator_value:
            if isinstance(e.instance, dict) and k not in e.instance:
                print(base + "/" + k)
    elif e.validator == "additionalProperties" and isinstance(e.instance, dict):
        known = e.schema.get("properties", {})
        for k in e.instance:
            if k not in known:
                print(base + "/" + k)
    else:
        print(base)
PY
}

# check KIND SCHEMA VALID_FILES... -- INVALID_DIR
agree() {
    local cmd=$1 schema=$2 dir=$3; shift 3
    local f out rc errs file want mode n=0
    for f in "$@"; do
        n=$((n + 1))
        out=$("$admin" "$cmd" "$f" 2>&1); rc=$?
        [ "$rc" -eq 0 ] || bad "$f: cb-admin $cmd refused a valid fixture ($rc): $out"
        errs=$(schema_errors "$schema" "$f")
        [ -z "$errs" ] || bad "$f: the schema refused a valid fixture at: $errs"
    done
    while IFS=$'\t' read -r file want mode; do
        [ -n "$file" ] || continue
        n=$((n + 1))
        f=$dir/$file
        out=$("$admin" "$cmd" "$f" 2>&1); rc=$?
        [ "$rc" -eq 1 ] || bad "$f: cb-admin $cmd exit $rc, not 1: $out"
        case $out in
        "cb-admin: $f: $want: "* | "cb-admin: $f: $want (field "*) ;;
        "cb-admin: $f: "*) [ -n "$want" ] || [[ $out != "cb-admin: $f: /"* ]] ||
            bad "$f: cb-admin named another place: $out" ;;
        *) bad "$f: cb-admin did not name $want: $out" ;;
        esac
        errs=$(schema_errors "$schema" "$f"); rc=$?
        [ "$rc" -eq 0 ] || bad "$f: the schema check failed: $errs"
        if [ "$mode" = validator-only ]; then
            [ -z "$errs" ] || bad "$f: validator-only, yet the schema refused it at: $errs"
        elif ! printf '%s\n' "$errs" | grep -qxF -- "$want"; then
            bad "$f: the schema did not find $want (it found: $(echo $errs))"
        fi
    done < "$dir/EXPECT"
    echo "schema-agree: $cmd: $n fixtures, $(basename "$schema")"
}

agree form-validate "$repo/docs/schemas/form-definition.schema.json" \
    "$repo/tests/fixtures/forms/invalid" \
    "$repo"/docs/examples/forms/*.json "$repo/docs/examples/contact-form.json"
if [ -d "$repo/tests/fixtures/mappings" ]; then
    agree mapping-validate "$repo/docs/schemas/salesforce-mapping.schema.json" \
        "$repo/tests/fixtures/mappings/invalid" "$repo"/tests/fixtures/mappings/valid/*.json
fi
exit $fail
