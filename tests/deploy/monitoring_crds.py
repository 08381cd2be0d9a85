"""Validates the Prometheus Operator resources (PodMonitor, PrometheusRule) of a rendered
Kubernetes manifest stream read from stdin, which kubernetes-validate skips because it has no
schema for custom resources. Each is parsed by the operator's API models generated from its CRDs
(cloudcoil-models-prometheus-operator: types, enums and required fields), and a field the
models do not know, which they would drop silently, is reported by comparing the parsed
resource, dumped back, with the input. Prints one line per resource checked; exits 1 on any
error, 2 when the stream holds none."""

import sys

import yaml
from cloudcoil.models.prometheus_operator import v1

MODELS = {
    ("monitoring.coreos.com/v1", "PodMonitor"): v1.PodMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): v1.PrometheusRule,
}


def unknown_fields(given, kept, path):
    """The paths of `given` that are missing from `kept`."""
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            return [path]
        missing = []
        for key, value in given.items():
            if key not in kept:
                missing.append(f"{path}.{key}")
            else:
                missing += unknown_fields(value, kept[key], f"{path}.{key}")
        return missing
    if isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            return [path]
        return [m for i, v in enumerate(given) for m in unknown_fields(v, kept[i], f"{path}[{i}]")]
    return []


def main():
    errors = 0
    checked = 0
    for doc in yaml.safe_load_all(sys.stdin):
        if not doc:
            continue
        model = MODELS.get((doc.get("apiVersion"), doc.get("kind")))
        if model is None:
            continue
        name = f"{doc['kind']}/{doc.get('metadata', {}).get('name')}"
        checked += 1
        try:
            parsed = model.model_validate(doc)
        except Exception as e:  # pydantic's ValidationError lists every failing field
            print(f"ERROR {name}: {e}")
            errors += 1
            continue
        kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
        missing = unknown_fields(doc, kept, "")
        if missing:
            print(f"ERROR {name}: fields the CRD does not define: {', '.join(missing)}")
            errors += 1
        else:
            print(f"OK {name}")
    if checked == 0:
        print("ERROR no PodMonitor or PrometheusRule in the input")
        return 2
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
