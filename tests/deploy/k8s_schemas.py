#!/usr/bin/env python3
"""Kubernetes JSON schemas for kubeconform from a release's OpenAPI v2 document
(api/openapi-spec/swagger.json): one standalone, strict schema per kind, named
as kubeconform's `{{.ResourceKind}}{{.KindSuffix}}.json` template expects
(statefulset-apps-v1.json, service-v1.json, networkpolicy-networking-v1.json).
Strict: objects with declared properties allow no others (a misspelt field
fails). IntOrString and Quantity take strings or numbers, as the API does."""
import json
import os
import sys

swagger, out = sys.argv[1], sys.argv[2]
defs = json.load(open(swagger))["definitions"]
LOOSE = {"io.k8s.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.api.resource.Quantity"}


def expand(schema, stack):
    if isinstance(schema, list):
        return [expand(s, stack) for s in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.split("/")[-1]
        if name in LOOSE:
            return {"anyOf": [{"type": "string"}, {"type": "number"}]}
        if name in stack:  # recursive types (JSONSchemaProps): anything below this point
            return {}
        return expand(defs[name], stack | {name})
    res = {}
    for k, v in schema.items():
        if k in ("x-kubernetes-group-version-kind",) or k.startswith("x-kubernetes-"):
            continue
        if k == "format" and v == "int-or-string":
            continue
        if k == "properties":
            continue  # a map of names (one may be "$ref"), not a schema: below
        res[k] = expand(v, stack) if k in ("items", "additionalProperties", "allOf", "anyOf", "oneOf") else v
    if isinstance(schema.get("properties"), dict):
        res["properties"] = {p: expand(s, stack) for p, s in schema["properties"].items()}
        res.setdefault("additionalProperties", False)
        res["type"] = ["object", "null"] if res.get("type") == "object" else res.get("type", "object")
    if schema.get("format") == "int-or-string":
        return {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    return res


os.makedirs(out, exist_ok=True)
n = 0
for name, d in defs.items():
    for gvk in d.get("x-kubernetes-group-version-kind", []):
        group = gvk["group"].split(".")[0]
        suffix = f"-{group}-{gvk['version']}" if group else f"-{gvk['version']}"
        schema = expand(d, {name})
        schema["$schema"] = "http://json-schema.org/schema#"
        for field, value in (("kind", gvk["kind"]), ("apiVersion", f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"])):
            if field in schema.get("properties", {}):
                schema["properties"][field] = {"type": "string", "enum": [value]}
        with open(os.path.join(out, f"{gvk['kind'].lower()}{suffix}.json"), "w") as f:
            json.dump(schema, f)
        n += 1
print(f"k8s_schemas: {n} schemas in {out}")
