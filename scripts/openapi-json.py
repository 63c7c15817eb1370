#!/usr/bin/python3
"""docs/openapi.yaml -> the JSON nginx serves at GET /api/openapi.json.

    openapi-json.py IN.yaml OUT.json

Run by the build (Makefile: $(B)/share/openapi.json) with Debian's
python3 and its python3-yaml (scripts/install-deps.sh installs it): the
document is written in YAML for people, served as JSON for machines, and
no C code of ours should parse YAML.  YAML 1.1 reads some plain scalars as
other types (`on` as true, `2026-12-01` as a date, `1:30` as a number):
anything that is not a JSON value, and a key that is not a string, stops
the build with its path, rather than being served changed.
"""
import json
import os
import sys

import yaml


def check(node, path):
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                sys.exit("openapi-json: %s: key %r is not a string (quote it)" % (path, k))
            check(v, path + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check(v, "%s/%d" % (path, i))
    elif node is not None and not isinstance(node, (str, bool, int, float)):
        sys.exit("openapi-json: %s: %r is a %s, not a JSON value (quote it)"
                 % (path, node, type(node).__name__))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: openapi-json.py IN.yaml OUT.json")
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.1"):
        sys.exit("openapi-json: %s is not an OpenAPI 3.1 document" % src)
    check(doc, "")
    tmp = dst + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, dst)


if __name__ == "__main__":
    main()
