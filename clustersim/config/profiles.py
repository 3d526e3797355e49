"""Named replica performance profiles: published measurements, fitted to the iteration model of
:mod:`clustersim.config.latency`. Cited, with the fit and its error, in ``seeds/README.md``
(table "Replica latency profiles").

An iteration of a replica (continuous batching, prefills and decodes in one batch) takes

    iteration + per_sequence x (sequences decoding) + sum over new prompts of
                (per_prompt_token x P + per_prompt_token_sq x P^2)

seconds. Source of both profiles: the Splitwise simulator's performance model,
``Mutinifni/splitwise-sim`` ``data/perf_model.csv`` @378088013a54 (measurements for Patel et al.,
"Splitwise", ISCA 2024), Llama-2-70B, FP16, tensor parallel 8 on a DGX-A100 and a DGX-H100
(8 x 80 GB): medians of five runs. ``iteration`` and ``per_sequence`` are a least-squares line
through the decode ("token") time at batch 1-64 with 512-token prompts; ``per_prompt_token``
and ``per_prompt_token_sq`` fit the prefill ("prompt") time of one prompt of 128-8,192 tokens
with the intercept fixed at ``iteration`` (least relative error).

``max_batch`` 256 is vLLM's default ``max_num_seqs``. ``kv_tokens`` is derived, not measured:
Llama-2-70B keeps 2 x 80 layers x 8 KV heads x 128 x 2 bytes = 327,680 bytes per token
(grouped-query attention, Touvron et al. 2023); 8 x 80 GB x 0.9 (vLLM's default
``gpu_memory_utilization``) - 140 GB of weights - ~10 GB of activations leaves ~426 GB, about
1.3 million tokens.
"""

from __future__ import annotations

PROFILES: dict[str, dict[str, float]] = {
    "llama2-70b-a100-tp8": {
        "iteration": 0.04347,
        "per_sequence": 0.0004129,
        "per_prompt_token": 9.657e-5,
        "per_prompt_token_sq": 1.102e-8,
        "max_batch": 256,
        "kv_tokens": 1_300_000,
    },
    "llama2-70b-h100-tp8": {
        "iteration": 0.02967,
        "per_sequence": 0.0003118,
        "per_prompt_token": 4.618e-5,
        "per_prompt_token_sq": 6.804e-9,
        "max_batch": 256,
        "kv_tokens": 1_300_000,
    },
}
"""Profile name -> its fields (seconds, tokens)."""
