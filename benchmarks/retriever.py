"""The search agent's retriever: `bm25s` against `rank-bm25`, both BM25 over the same corpus and tokens.

    python benchmarks/retriever.py [--questions 2000] [--repeats 3]

The corpus is `agentic_lab.search.build_corpus()` (7,200 short documents), tokenised once by
`agentic_lab.search.tokenize` for both libraries, so only indexing and ranking differ: bm25s's Lucene
BM25 (k1 = 1.5, b = 0.75; scores precomputed into a sparse matrix at indexing) and rank-bm25's
BM25Okapi (same k1 and b; scores each query against every document in Python at query time). Both rank
the scores with `agentic_lab.search.top_k` (ties by document order).

Three measures, each library in the same run:
* index time: building the index from the token lists (best of --repeats);
* query latency: one query at a time, as an agent's tool call is, top 3 (mean over every query);
* recall@1 and recall@3 of the gold document, over every hop of --questions questions (train and test),
  for the expert's query ("Zibo lives") and, for single-hop questions, for the question's own text.
The last line is the query-latency speed-up of the chosen library, bm25s, over rank-bm25.
"""
from __future__ import annotations

import argparse
import time

import bm25s
from rank_bm25 import BM25Okapi

from agentic_lab.search import build_corpus, tokenize, top_k
from agentic_lab.tasks import sample_tasks

K = 3


def queries_and_gold(n: int) -> list[tuple[list[str], int, str]]:
    """(query tokens, gold document id, which query) for every hop of n questions, 80% train and 20% test."""
    out = []
    for task in sample_tasks("search_agent", n - n // 5, seed=0) + sample_tasks("search_agent", n // 5, split="test"):
        expert = [m["tool_calls"][0]["function"]["arguments"]["query"] for m in task.solution if m.get("tool_calls")]
        out += [(tokenize(q), gold, "expert") for q, gold in zip(expert, task.info["gold_documents"])]
        if task.info["hops"] == 1:
            out.append((tokenize(task.prompt), task.info["gold_documents"][0], "question"))
    return out


def bm25s_index(tokens: list[list[str]]):
    index = bm25s.BM25(k1=1.5, b=0.75)
    index.index(tokens, show_progress=False)
    return lambda query: top_k(index.get_scores(query), K)


def rank_bm25_index(tokens: list[list[str]]):
    index = BM25Okapi(tokens, k1=1.5, b=0.75)
    return lambda query: top_k(index.get_scores(query), K)


def measure(build, tokens: list[list[str]], queries, repeats: int) -> dict[str, float]:
    index_seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        top = build(tokens)
        index_seconds.append(time.perf_counter() - start)
    start = time.perf_counter()
    ranked = [top(query) for query, _, _ in queries]
    latency = (time.perf_counter() - start) / len(queries)
    result = {"index_s": min(index_seconds), "query_ms": 1000 * latency}
    for kind in ("expert", "question"):
        hits = [(gold in found[:1], gold in found) for (_, gold, k), found in zip(queries, ranked) if k == kind]
        result[f"{kind}_recall@1"] = sum(h1 for h1, _ in hits) / len(hits)
        result[f"{kind}_recall@{K}"] = sum(hk for _, hk in hits) / len(hits)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    corpus = build_corpus()
    tokens = [tokenize(d.text) for d in corpus]
    queries = queries_and_gold(args.questions)
    n_expert = sum(k == "expert" for _, _, k in queries)
    print(f"corpus: {len(corpus)} documents, {sum(map(len, tokens)) / len(tokens):.1f} tokens each; "
          f"{n_expert} expert queries, {len(queries) - n_expert} question-text queries")
    results = {"bm25s": measure(bm25s_index, tokens, queries, args.repeats),
               "rank-bm25": measure(rank_bm25_index, tokens, queries, args.repeats)}
    names = list(next(iter(results.values())))
    print(f"{'':10s}" + "".join(f"{n:>19s}" for n in names))
    for library, r in results.items():
        print(f"{library:10s}" + "".join(f"{r[n]:19.4f}" for n in names))
    print(f"\nRESULT retriever_speedup {results['rank-bm25']['query_ms'] / results['bm25s']['query_ms']:.1f}")


if __name__ == "__main__":
    main()
