"""Hypothesis strategies for scenarios: from the JSON schema (``clustersim schema``), small
valid scenarios that run in a fraction of a second, mutations of a scenario tree (wrong
types, non-finite numbers, missing and extra keys, paths as names), of its YAML text
(duplicate keys, tags, deep nesting, anchors) and of its bytes (see ``fuzzing``).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache

from fuzzing import NASTY_TEXT, NASTY_VALUES
from hypothesis import strategies as st

from clustersim.config import scenario_json_schema


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(json.dumps(scenario_json_schema()))


def policy_kinds() -> list[str]:
    """The scheduler's policy kinds, as the schema lists them (new policies are fuzzed too)."""
    policy = schema()["$defs"]["SchedulerConfig"]["properties"]["policy"]
    return sorted(policy["discriminator"]["mapping"])


# ------------------------------------------------------------------------- from the schema

_NUMBERS = st.one_of(
    st.integers(0, 100),
    st.floats(0, 1000, allow_nan=False),
    st.sampled_from([0, 1, 0.5, 1e-9, 1e6, 1e12, 1e308, -1, float("inf"), float("nan")]),
)


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = {**schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def from_schema(node: dict, depth: int = 0) -> st.SearchStrategy:
    """Values shaped by a JSON schema node: mostly plausible, sometimes at or past its bounds."""
    node = _resolve(node)
    if depth > 8:
        return st.none()
    options = node.get("anyOf") or node.get("oneOf")
    if options:
        return st.one_of([from_schema(o, depth + 1) for o in options])
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return _object(node, depth)
    if kind == "array":
        return st.lists(from_schema(node.get("items", {}), depth + 1), max_size=3)
    if kind == "string":
        lo, hi = node.get("minLength", 0), min(node.get("maxLength", 12), 12)
        return st.one_of(
            st.text("abcdefgh-_0123456789", min_size=max(lo, 1), max_size=max(hi, 1)),
            st.sampled_from(["2h", "30m", "1d", "A100", "H800", "fifo", "backfill", "young", "normal"]),
        )
    if kind == "integer":
        lo = node.get("minimum", 0)
        hi = node.get("maximum", lo + 64)
        return st.one_of(st.integers(lo, max(lo, min(hi, lo + 64))), st.sampled_from([lo, hi, lo - 1, 10**12]))
    if kind == "number":
        return _NUMBERS
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return st.one_of(st.none(), st.integers(0, 10), st.text(max_size=5))


def _object(node: dict, depth: int) -> st.SearchStrategy:
    props = node.get("properties", {})
    required = set(node.get("required", []))
    extra = node.get("additionalProperties")

    @st.composite
    def build(draw):
        out = {}
        for name, sub in props.items():
            if name in required or draw(st.integers(0, 3)) == 0:
                out[name] = draw(from_schema(sub, depth + 1))
        if isinstance(extra, dict):
            keys = draw(st.lists(st.one_of(st.sampled_from(["1", "8", "16", "A100", "gpu"]), st.text(max_size=4)),
                                 max_size=3, unique=True))
            for k in keys:
                out[k] = draw(from_schema(extra, depth + 1))
        return out

    return build()


def schema_scenarios() -> st.SearchStrategy:
    return from_schema(schema())


# ------------------------------------------------------------------------- valid, small, fast

DURATIONS = st.sampled_from(["10m", "30m", "1h", "2h", 600, 5400.5])


@st.composite
def distribution(draw, empirical: bool = True):
    kinds = ["fixed", "exponential", "lognormal"] + (["empirical"] if empirical else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "fixed":
        return draw(DURATIONS)
    if kind == "exponential":
        return {"kind": "exponential", "mean": draw(DURATIONS)}
    if kind == "lognormal":
        return {"kind": "lognormal", "median": "20m", "p90": draw(st.sampled_from(["1h", "2h", "5h"]))}
    return {"kind": "empirical", "file": "durations.txt"}


@st.composite
def job_class(draw, i: int, gpus_per_node: int, nodes: int):
    sizes = sorted({1, gpus_per_node, gpus_per_node * max(1, nodes // 2), *draw(st.lists(st.sampled_from([1, 2, 4, 8, 16, 64]), max_size=2))})
    probs = [round(1.0 / len(sizes), 6) for _ in sizes]
    probs[-1] = round(1.0 - sum(probs[:-1]), 6)
    cls = {
        "name": f"c{i}",
        "arrival_rate_per_h": draw(st.sampled_from([0, 0.5, 2, 6, 20])),
        "gpus": dict(zip(sizes, probs, strict=True)) if draw(st.booleans()) else draw(st.sampled_from(sizes)),
        "duration": draw(distribution()),
    }
    if draw(st.booleans()):
        cls["preemptible"] = True
    if draw(st.integers(0, 4)) == 0:
        cls["hourly"] = [1.0 + (h % 3) for h in range(24)]
    if draw(st.integers(0, 4)) == 0:
        cls["checkpoint"] = {"interval": draw(st.sampled_from(["young", "30m"])), "cost": "30s"}
    return cls


@st.composite
def valid_scenarios(draw):
    """A small scenario that validates and runs in well under a second (most of the time)."""
    nodes = draw(st.integers(1, 12))
    per = draw(st.sampled_from([1, 2, 4, 8]))
    data = {
        "name": draw(st.text("abcxyz-_.0123456789", min_size=1, max_size=10).filter(lambda s: s not in (".", ".."))),
        "horizon": draw(st.sampled_from(["2h", "6h", "1d", "2d"])),
        "cluster": {"nodes": nodes, "gpus_per_node": per},
        "scheduler": {
            "policy": draw(st.sampled_from(policy_kinds())),
            "placement": draw(st.sampled_from(["pack", "spread"])),
        },
        "workload": {"classes": [draw(job_class(i, per, nodes)) for i in range(draw(st.integers(1, 3)))]},
    }
    if draw(st.booleans()):
        data["warmup"] = "1h"
    if draw(st.integers(0, 3)) == 0:
        data["failures"] = draw(st.sampled_from([
            {},
            {"rate_per_1000_node_days": 200, "detection": "5m"},
            {"rate_per_1000_node_days": 50, "life": {"kind": "weibull", "shape": 0.7}, "spare_nodes": 0,
             "lemons": {"fraction": 0.1, "multiplier": 5, "pull_after": 2}},
        ]))
    if draw(st.integers(0, 3)) == 0:
        data["supply"] = {
            "orders": [{"at": "1h", "nodes": draw(st.integers(1, 4)), "lead_time": "2h", "burn_in": "1h",
                        "batch_nodes": 1, "batch_every": "1h"}],
            "energy": {"pue": 1.2},
        }
        data["cluster"]["gpus_per_node"] = 8
    if draw(st.integers(0, 3)) == 0:
        data["services"] = [{
            "name": "chat",
            "gpus_per_replica": data["cluster"]["gpus_per_node"],
            "rps_per_replica": draw(st.sampled_from([5, 15, 1e-3])),
            "demand": {"base_rps": draw(st.sampled_from([0, 10, 50, 1e6])), "noise": 0.1,
                       "hourly": [0.5 + h / 24 for h in range(24)]},
            "autoscale": {"max_replicas": draw(st.sampled_from([2, 8, None]))},
        }]
    return data


# ------------------------------------------------------------------------- mutations

def _paths(value, prefix=()):
    """Every (path, value) in a tree of dicts and lists, the root included."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _set(tree, path, value):
    node = tree
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value


def _delete(tree, path):
    node = tree
    for p in path[:-1]:
        node = node[p]
    del node[path[-1]]


@st.composite
def mutated(draw, data):
    """``data`` with 0 to 3 mutations: a value replaced by a nasty one, a key deleted or added."""
    tree = copy.deepcopy(data)
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p, _ in _paths(tree) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "extra", "wrap"]))
        try:
            if op == "replace":
                _set(tree, path, draw(st.sampled_from(NASTY_VALUES)))
            elif op == "delete":
                _delete(tree, path)
            elif op == "extra":
                parent = tree
                for p in path[:-1]:
                    parent = parent[p]
                if isinstance(parent, dict):
                    parent[draw(st.sampled_from(["colour", "nodes", "kind", "1", "file"]))] = draw(st.sampled_from(NASTY_VALUES))
            else:
                node = tree
                for p in path:
                    node = node[p]
                _set(tree, path, [node] if draw(st.booleans()) else {"kind": node})
        except (KeyError, IndexError, TypeError):
            pass
    return tree


TEXT_EDITS = [
    lambda t: t + "horizon: 1d\n",  # a key twice
    lambda t: t.replace("cluster:", "cluster:\n  nodes: 3\n  nodes: 4\ncluster_:", 1),
    lambda t: "x: !!python/object/apply:os.system ['echo hi']\n" + t,
    lambda t: t + "extra: " + "[" * 3000 + "]" * 3000 + "\n",
    lambda t: t + "extra: " + "{a: " * 100 + "1" + "}" * 100 + "\n",
    lambda t: "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n" + t,
    lambda t: t.replace("  ", "\t", 1),
    lambda t: t.replace(":", "", 1),
    lambda t: "--- \n" + t + "---\nname: again\n",
    lambda t: t + "supply: {start_date: 2023-02-30}\n",
    lambda t: t.replace("nodes: ", "nodes: 0x", 1),
    lambda t: t.replace("nodes: ", "nodes: 0", 1),
    lambda t: t + "name: " + "9" * 5000 + "\n",
    lambda t: "? [a, b]\n: 1\n" + t,
    lambda t: t,
]


def overrides(data) -> st.SearchStrategy:
    """``--set KEY=VALUE`` arguments: keys of the scenario (or near misses), nasty YAML values."""
    keys = []
    for path, _ in _paths(data):
        if path:
            key = ""
            for p in path:
                key += f"[{p}]" if isinstance(p, int) else ("." if key else "") + str(p)
            keys.append(key)
    keys += ["cluster.nodes", "name", "horizon", "workload.classes[0].duration", "workload.classes[9].name",
             "a..b", "[0]", "cluster.nodes.x", "services[0].demand.base_rps", "failures.rate_per_1000_node_days"]
    raw = st.one_of(
        st.sampled_from(NASTY_TEXT),
        st.sampled_from(["[1,2", "{a: 1, a: 2}", "!!python/object:os.system {}", "!!binary AAAA", ".inf", ".nan",
                         "1e3", "2h", "{kind: exponential, mean: .inf}", "backfill", "- a\n- b", "'unterminated"]),
        st.text(max_size=8),
    )
    return st.lists(st.tuples(st.sampled_from(keys), raw).map(lambda kv: f"{kv[0]}={kv[1]}"), max_size=2)
