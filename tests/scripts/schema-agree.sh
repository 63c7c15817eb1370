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

# schema_errors SCHEMA FILE...: the places the schema finds wrong in each
# file, "FILE<TAB>JSON pointer" a line (a missing, extra or badly named
# member is named by its own pointer; a file not JSON by ""): one python
# for every file.
schema_errors() {
    "$py" - "$@" <<'PY'
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
def ptr(path):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
for f in sys.argv[2:]:
    try:
        doc = json.load(open(f))
    except ValueError:
        print(f + "\t"); continue
    for e in v.iter_errors(doc):
        base = ptr(e.absolute_path)
        if "propertyNames" in e.absolute_schema_path:
            print(f + "\t" + base + ptr([e.instance]))
        elif e.validator == "required":
            for k in e.validator_value:
                if isinstance(e.instance, dict) and k not in e.instance:
                    print(f + "\t" + base + "/" + k)
        elif e.validator == "additionalProperties" and isinstance(e.instance, dict):
            known = e.schema.get("properties", {})
            for k in e.instance:
                if k not in known:
                    print(f + "\t" + base + "/" + k)
        else:
            print(f + "\t" + base)
PY
}

# agree COMMAND SCHEMA INVALID_DIR VALID_FILE...
agree() {
    local cmd=$1 schema=$2 dir=$3; shift 3
    local f out rc all errs file want mode n=0 files=("$@")
    while IFS=$'\t' read -r file want mode; do
        [ -n "$file" ] && files+=("$dir/$file")
    done < "$dir/EXPECT"
    all=$(schema_errors "$schema" "${files[@]}") || { bad "$schema: $all"; return; }
    for f in "$@"; do
        n=$((n + 1))
        out=$("$admin" "$cmd" "$f" 2>&1); rc=$?
        [ "$rc" -eq 0 ] || bad "$f: cb-admin $cmd refused a valid fixture ($rc): $out"
        errs=$(printf '%s\n' "$all" | awk -F'\t' -v f="$f" '$1 == f { print $2 }')
        [ -z "$(printf '%s\n' "$all" | awk -F'\t' -v f="$f" '$1 == f')" ] ||
            bad "$f: the schema refused a valid fixture at: $errs"
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
        if [ "$mode" = validator-only ]; then
            [ -z "$(printf '%s\n' "$all" | awk -F'\t' -v f="$f" '$1 == f')" ] ||
                bad "$f: validator-only, yet the schema refused it"
        elif ! printf '%s\n' "$all" | awk -F'\t' -v f="$f" -v w="$want" \
            'BEGIN { r = 1 } $1 == f && $2 == w { r = 0 } END { exit r }'; then
            bad "$f: the schema did not find '$want' (it found: $(printf '%s\n' "$all" |
                awk -F'\t' -v f="$f" '$1 == f { printf "%s ", $2 }'))"
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
