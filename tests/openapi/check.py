#!/usr/bin/python3
"""The OpenAPI document and the broker agree (tests/scripts/openapi.sh).

    check.py REPO BUILD [SERVED.json]

Fails, one line per disagreement, when:
  - a route of routes.tab (method + path) has no operation in
    docs/openapi.yaml, or an operation has no route (but the paths nginx
    and the worker serve themselves: NON_ROUTES);
  - an operation's `deprecated`, or its required Idempotency-Key, differs
    from its descriptor (`<binary> --routes`, the traits of the 7th
    column: lib/route.h);
  - an operation's security schemes differ from what its descriptor's
    authentication admits (AUTH_SCHEMES);
  - a problem type of lib/errs.c or of nginx's own answers has no example
    in components/examples;
  - the build's JSON (BUILD/share/openapi.json) or the served one
    (SERVED.json) is not the YAML's document.
Before all that it proves the comparison can fail: it must find the
disagreements planted in doctored copies of the document.
"""
import copy
import json
import os
import re
import subprocess
import sys

import yaml

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Served without a responder: the WebSocket upgrades (docs/channel.md) and
# this document itself (nginx).
NON_ROUTES = {("GET", "/ws/ctx/{ctx_ref}"), ("GET", "/ws/calls"),
              ("GET", "/api/openapi.json")}
# What each authentication kind (lib/route.c route_auths) admits.
AUTH_SCHEMES = {
    "tab": {"tabToken"},
    "agent": {"agentApiKey", "agentJwt"},
    "agent-memo": {"agentApiKey", "agentJwt"},
    "agent-key": {"agentApiKey"},
    "person": {"personJwt"},
    "person-only": {"personJwt"},
    "signed": {"standardWebhook"},
}
# A route of kind none may still check a signature or a token of its own
# (Slack's, the metrics bearer) but never takes a caller's credentials.
CALLER_SCHEMES = {"tabToken", "agentApiKey", "agentJwt", "personJwt"}


def routes_tab(repo):
    out = {}
    with open(os.path.join(repo, "routes.tab"), encoding="utf-8") as f:
        for line in f:
            f_ = line.split("#", 1)[0].split()
            if len(f_) == 6:
                out[(f_[0], f_[1])] = f_[2]
    return out


def descriptors(build, binaries):
    out = {}
    for b in sorted(set(binaries)):
        text = subprocess.run([os.path.join(build, "bin", b), "--routes"], check=True,
                              capture_output=True, text=True).stdout
        for line in text.splitlines():
            f = line.split()
            if len(f) < 6:
                continue
            traits = {}
            for t in (f[6].split(",") if len(f) == 7 else []):
                k, _, v = t.partition("=")
                if k not in ("idempotent", "deprecated", "sunset"):
                    sys.exit("check.py: %s --routes: unknown trait %r" % (b, t))
                traits[k] = int(v) if v else 1
            out[(f[0], f[1])] = {
                "auth": f[4],
                "idempotent": "idempotent" in traits,
                "deprecated": traits.get("deprecated", 0) > 0 or traits.get("sunset", 0) > 0,
            }
    return out


def operations(doc):
    ops = {}
    for path, item in doc.get("paths", {}).items():
        for m, op in item.items():
            if m in METHODS:
                ops[(m.upper(), path)] = op
    return ops


def takes_idempotency_key(doc, op):
    for p in op.get("parameters", []):
        if "$ref" in p:
            p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
        if p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key":
            return bool(p.get("required"))
    return False


def schemes(doc, op):
    sec = op.get("security", doc.get("security", []))
    return {name for req in sec for name in req}


def problem_types(repo):
    types = set()
    with open(os.path.join(repo, "lib", "errs.c"), encoding="utf-8") as f:
        types |= set(re.findall(r'"(/problems/[a-z0-9-]+)"', f.read()))
    with open(os.path.join(repo, "nginx", "nginx.conf.in"), encoding="utf-8") as f:
        types |= set(re.findall(r'"type":"(/problems/[a-z0-9-]+)"', f.read()))
    types.discard("/problems/ok")		# CB_OK: never an answer
    return types


def compare(doc, table, desc, types):
    bad = []
    ops = operations(doc)
    for key in sorted(table):
        if key not in ops:
            bad.append("%s %s: in routes.tab, not in docs/openapi.yaml" % key)
    for key in sorted(ops):
        if key not in table and key not in NON_ROUTES:
            bad.append("%s %s: in docs/openapi.yaml, not a route of routes.tab" % key)
    for key in sorted(set(ops) & set(desc)):
        op, d = ops[key], desc[key]
        if bool(op.get("deprecated", False)) != d["deprecated"]:
            bad.append("%s %s: deprecated is %s in docs/openapi.yaml, %s in its descriptor"
                       % (key + (bool(op.get("deprecated", False)), d["deprecated"])))
        if takes_idempotency_key(doc, op) != d["idempotent"]:
            bad.append("%s %s: a required Idempotency-Key is %s in docs/openapi.yaml, the "
                       "route is %s" % (key + ("documented" if takes_idempotency_key(doc, op)
                                               else "not documented",
                                               "idempotent" if d["idempotent"]
                                               else "not idempotent")))
        got = schemes(doc, op)
        want = AUTH_SCHEMES.get(d["auth"])
        if want is not None and got != want:
            bad.append("%s %s: security %s, but the route authenticates %s (%s)"
                       % (key + (sorted(got), d["auth"], sorted(want))))
        if want is None and got & CALLER_SCHEMES:
            bad.append("%s %s: security %s, but the route takes no caller's credentials"
                       % (key + (sorted(got & CALLER_SCHEMES),)))
    examples = doc.get("components", {}).get("examples", {})
    shown = {e.get("value", {}).get("type") for e in examples.values()
             if isinstance(e.get("value"), dict)}
    for t in sorted(types - shown):
        bad.append("problem type %s has no example in components/examples" % t)
    return bad


def planted(doc, table, desc, types):
    """Each doctoring must be caught; returns what was not."""
    missed = []
    some = sorted(k for k in table if k in desc and desc[k]["auth"] == "person")[0]
    trials = []
    d = copy.deepcopy(doc)
    del d["paths"][some[1]][some[0].lower()]
    trials.append(("a route left out", d))
    d = copy.deepcopy(doc)
    d["paths"]["/api/v1/nowhere"] = {"get": {"responses": {"200": {"description": "x"}}}}
    trials.append(("a path that is no route", d))
    d = copy.deepcopy(doc)
    d["paths"][some[1]][some[0].lower()]["deprecated"] = True
    trials.append(("deprecated without the descriptor", d))
    d = copy.deepcopy(doc)
    d["paths"][some[1]][some[0].lower()]["security"] = [{"tabToken": []}]
    trials.append(("another security scheme", d))
    idem = sorted(k for k in table if k in desc and desc[k]["idempotent"])[0]
    d = copy.deepcopy(doc)
    op = d["paths"][idem[1]][idem[0].lower()]
    op["parameters"] = [p for p in op["parameters"]
                        if p.get("$ref") != "#/components/parameters/IdempotencyKey"]
    trials.append(("an Idempotency-Key left out", d))
    d = copy.deepcopy(doc)
    d["paths"][some[1]][some[0].lower()].setdefault("parameters", []).append(
        {"$ref": "#/components/parameters/IdempotencyKey"})
    trials.append(("an Idempotency-Key the route does not take", d))
    d = copy.deepcopy(doc)
    d["components"]["examples"] = {k: v for k, v in d["components"]["examples"].items()
                                   if v["value"]["type"] != "/problems/route-sunset"}
    trials.append(("a problem type without its example", d))
    for what, d in trials:
        if not compare(d, table, desc, types):
            missed.append(what)
    dd = dict(desc)
    dd[some] = dict(desc[some], deprecated=True)
    if not compare(doc, table, dd, types):
        missed.append("a deprecated descriptor undocumented")
    return missed


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: check.py REPO BUILD [SERVED.json]")
    repo, build = sys.argv[1], sys.argv[2]
    with open(os.path.join(repo, "docs", "openapi.yaml"), encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    table = routes_tab(repo)
    desc = descriptors(build, table.values())
    types = problem_types(repo)
    missed = planted(doc, table, desc, types)
    if missed:
        sys.exit("check.py: the comparison missed: " + "; ".join(missed))
    bad = compare(doc, table, desc, types)
    with open(os.path.join(build, "share", "openapi.json"), encoding="utf-8") as f:
        if json.load(f) != doc:
            bad.append("%s/share/openapi.json is not docs/openapi.yaml: rebuild (make openapi)"
                       % build)
    if len(sys.argv) == 4:
        with open(sys.argv[3], encoding="utf-8") as f:
            if json.load(f) != doc:
                bad.append("GET /api/openapi.json is not docs/openapi.yaml")
    for line in bad:
        print("openapi: " + line)
    if bad:
        sys.exit(1)
    print("openapi: %d routes, %d operations, %d problem types agree"
          % (len(table), len(operations(doc)), len(types)))


if __name__ == "__main__":
    main()
