"""The latency section of a service: defaults, the capacity it derives, and bad input (one
clear message naming the service and the field)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from clustersim.config import scenario_from_dict
from clustersim.config.profiles import PROFILES
from clustersim.errors import ClusterSimError

REPO = Path(__file__).resolve().parents[2]
CONV = REPO / "workloads" / "azure-llm-2023" / "AzureLLMInferenceTrace_conv.csv.gz"


def data(latency: dict, **svc) -> dict:
    service = {"name": "chat", "gpus_per_replica": 8, "demand": {"base_rps": 10}, "latency": latency, **svc}
    return {
        "name": "lat",
        "horizon": "1d",
        "cluster": {"nodes": 4, "gpus_per_node": 8},
        "workload": {"classes": [{"name": "a", "arrival_rate_per_h": 1, "gpus": 1, "duration": "1h"}]},
        "services": [service],
    }


SIMPLE = {"requests": {"prompt": 1000, "output": 100}, "profile": "llama2-70b-a100-tp8"}


def problem(d) -> str:
    with pytest.raises(ClusterSimError) as err:
        scenario_from_dict(d)
    return str(err.value)


def test_capacity_fills_rps_per_replica_from_the_profile():
    sc = scenario_from_dict(data(SIMPLE))
    p = PROFILES["llama2-70b-a100-tp8"]
    # one replica, full (256 sequences, 99% decoding): 1 / (E[w] + E[O] d(S q) / S)
    w = p["per_prompt_token"] * 1000 + p["per_prompt_token_sq"] * 1000**2
    d = p["iteration"] + p["per_sequence"] * 256 * 99 / 100
    assert sc.services[0].rps_per_replica == pytest.approx(1 / (w + 100 * d / 256), rel=1e-12)
    # a given rps_per_replica is kept
    sc = scenario_from_dict(data(SIMPLE, rps_per_replica=3.0))
    assert sc.services[0].rps_per_replica == 3.0


def test_kv_cache_limits_the_slots():
    lat = dict(SIMPLE, profile={"model": "llama2-70b-a100-tp8", "kv_tokens": 11_000})
    sc = scenario_from_dict(data(lat))
    assert sc.services[0].latency.slots() == 10  # 11,000 tokens / (1,000 + 100) held per sequence


def test_a_request_log_gives_the_token_pairs():
    sc = scenario_from_dict(data({"requests": {"trace": str(CONV)}, "profile": "llama2-70b-h100-tp8"}))
    m = sc.services[0].latency.requests.moments()
    assert m.p == pytest.approx(1154.7, abs=0.1) and m.o == pytest.approx(211.1, abs=0.1)  # calibration.md 4


@pytest.mark.parametrize(
    ("latency", "field", "words"),
    [
        ({**SIMPLE, "slo": {"ttft": {"p99": "100ms"}}}, "services[0].latency.slo.ttft",
         "service 'chat': no number of replicas can meet p99 TTFT <= 0.1 s: prefill alone, on an idle replica, "
         "of the prompt at that percentile (1,000 tokens) takes 0.151 s"),
        ({**SIMPLE, "slo": {"tpot": {"p50": "10ms"}}}, "services[0].latency.slo.tpot",
         "a decode iteration of a single sequence takes 0.0439 s"),
        ({**SIMPLE, "slo": {"ttft": {"p99": "2s"}, "attainment": 1.5}}, "services[0].latency.slo.attainment",
         "less than or equal to 1"),
        ({**SIMPLE, "slo": {"ttft": {"q99": "2s"}}}, "services[0].latency.slo.ttft", "such as {p99: 2s}"),
        ({**SIMPLE, "slo": {}}, "services[0].latency.slo", "at least one of ttft, tpot, e2e"),
        ({**SIMPLE, "profile": {"iteration": -0.005, "per_sequence": 0.001, "per_prompt_token": 1e-4}},
         "services[0].latency.profile.iteration", "expected a finite time >= 0"),
        ({**SIMPLE, "profile": {"iteration": "5 days", "per_sequence": 0.001, "per_prompt_token": 1e-4}},
         "services[0].latency.profile.iteration", "expected a time such as 200ms or 2s, got '5 days'"),
        ({**SIMPLE, "profile": {"iteration": 0, "per_sequence": 0, "per_prompt_token": 1e-4}},
         "services[0].latency.profile.iteration", "must take more than 0 s"),
        ({**SIMPLE, "profile": {"iteration": 0, "per_sequence": 0.001, "per_prompt_token": 0}},
         "services[0].latency.profile.per_prompt_token", "prefilling a prompt must take more than 0 s"),
        ({**SIMPLE, "profile": {"iteration": 0.01, "per_sequence": 0.001}},
         "services[0].latency.profile.per_prompt_token", "give per_prompt_token"),
        ({**SIMPLE, "profile": {"model": "llama2-70b-a100-tp8", "decode_table": {1: 0.04, 8: 0}}},
         "services[0].latency.profile.decode_table.8", "more than 0 s"),
        ({**SIMPLE, "profile": "gpt5-b200"}, "services[0].latency.profile.model", "unknown profile 'gpt5-b200'"),
        ({"requests": {"prompt": 1000}, "profile": "llama2-70b-a100-tp8"}, "services[0].latency.requests.output",
         "give both `prompt` and `output`"),
        ({"requests": {"prompt": {"kind": "lognormal", "median": 100, "p90": 50}, "output": 10},
          "profile": "llama2-70b-a100-tp8"}, "services[0].latency.requests.prompt", "must be greater than median"),
    ],
)
def test_bad_latency_input_names_the_field(latency, field, words):
    text = problem(data(latency))
    assert f"{field}: service 'chat': " in text, text  # the field, then the service by name
    assert words in text, text
    assert text.count("\n") == 1, text  # one line: the source, then the one problem


def test_a_token_file_without_the_needed_columns(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("TIMESTAMP,ContextTokens\n2023-11-16 18:15:46,374\n")
    text = problem(data({"requests": {"trace": str(log)}, "profile": "llama2-70b-a100-tp8"}))
    assert "services[0].latency.requests.trace: service 'chat': " in text
    assert "needs a prompt column (ContextTokens or prompt_tokens) and an output column " \
           "(GeneratedTokens or output_tokens); found: TIMESTAMP, ContextTokens" in text
    bad = tmp_path / "bad.csv"
    bad.write_text("ContextTokens,GeneratedTokens\n374,44\n12,many\n")
    text = problem(data({"requests": {"trace": str(bad)}, "profile": "llama2-70b-a100-tp8"}))
    assert "services[0].latency.requests.trace: service 'chat': " in text
    assert f"{bad}:3: expected a token count in GeneratedTokens, got 'many'" in text
    text = problem(data({"requests": {"prompt": {"kind": "empirical", "file": str(log), "column": "Prompt"},
                                      "output": 10}, "profile": "llama2-70b-a100-tp8"}))
    assert "services[0].latency.requests.prompt: service 'chat': " in text and "no column 'Prompt'" in text


def test_target_slo_needs_an_slo_and_rps_needs_a_profile():
    text = problem(data(SIMPLE, autoscale={"target": "slo"}))
    assert "services[0].autoscale.target: service 'chat': target slo needs latency.slo" in text
    d = data(SIMPLE)
    del d["services"][0]["latency"]
    assert "services[0].rps_per_replica: service 'chat': give rps_per_replica (or a `latency` section" in problem(d)


def test_latencies_read_units_and_percentiles():
    sc = scenario_from_dict(data({**SIMPLE, "slo": {"ttft": {"p99.9": "2.5 s"}, "tpot": {"p90": "150ms"},
                                                    "attainment": "95%"}}))
    slo = sc.services[0].latency.slo
    assert slo.ttft.percentile == 99.9 and slo.ttft.value == 2.5
    assert slo.tpot.share == pytest.approx(0.9) and math.isclose(slo.tpot.value, 0.15)
    assert slo.attainment == pytest.approx(0.95)
    # the resolved scenario (config.json) reads back the same
    again = scenario_from_dict(sc.model_dump(mode="json"))
    assert again.services[0].latency == sc.services[0].latency
