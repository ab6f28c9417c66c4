"""The bench report as Markdown: the machine, then one table per measure with medians and ratios to the baseline."""

from __future__ import annotations

from eval.bench.synthetic import NOISE_SIGMA

TARGET_ROWS, TARGET_P95_MS = 100_000, 50.0


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.3g}×" if a and b else "–"


def _cell(stats: dict) -> str:
    return f"{stats['p50_ms']:.1f} / {stats['p95_ms']:.1f} / {stats['p99_ms']:.1f}"


def _ingest(i: dict) -> list[str]:
    if i.get("skipped"):
        return [f"Ingest: skipped (--skip-ingest); existing data dir with {i.get('chunks')} chunks.", ""]
    parse = f"{i['pages_per_s']} pages/s" if "pages_per_s" in i else f"{i['documents_per_s']} documents/s, {i['chars_per_s']:.0f} chars/s"
    return ["## Ingest (real corpus, temp data dir)", "", "| measure | value |", "|---|---|",
            f"| documents (PDF) | {i['documents']} ({i['pdfs']}) |", f"| parse | {parse} |",
            f"| full ingest (parse, embed, index, DuckDB; cold embedding cache) | {i['ingest_s']:.1f} s, {i['chunks']} chunks |",
            *([f"| embedder ({i['embed_backend']}) load, before the ingest | {i['embedder_load_s']:.1f} s |"] if "embed_backend" in i else []),
            f"| embedding (cold) | {i['chunks_per_s_embedded']} chunks/s ({i['embed_s']:.1f} s) |",
            f"| tokenise / index build (chunks) | {i['tokenize_s']:.2f} s / {i['index_build_s']:.2f} s |",
            *([f"| rest of the ingest (DuckDB, linking, cases) | {i['other_s']:.1f} s |"] if "other_s" in i else []), ""]


def _embed(e: dict) -> list[str]:
    rows = e["backends"]
    torch = rows["torch"]

    def row(b: dict) -> str:
        q, c = b["query"], b.get("cosine_to_torch")
        agree = f"{c['queries_min']:.4f} / {c['chunks_min']:.4f} / {c['chunks_mean']:.4f}" if c else "–"
        return (f"| {b['variant']} | {b['load_s']:.1f} | {q['p50_ms']:.2f} / {q['p95_ms']:.2f} | "
                f"{_ratio(torch['query']['p50_ms'], q['p50_ms'])} | {b['chunks_per_s']:.1f} | "
                f"{_ratio(b['chunks_per_s'], torch['chunks_per_s'])} | {agree} |")

    return [f"## Embedding backends ({e['queries']} dev questions × {e['rounds']}, interleaved; {torch['chunks']} real chunks, "
            "batched by length)", "",
            "| backend | load s | query p50 / p95 ms | query speed-up | chunks/s | chunk speed-up | cosine to torch: queries min / chunks min / mean |",
            "|---|---|---|---|---|---|---|", *[row(b) for b in rows.values()], "",
            f"ONNX export {'cached before this run' if e['onnx_export_cached'] else 'made in this run (counted in load s)'}.", ""]


def _search(search: dict) -> list[str]:
    lines = ["## Search latency (ms; Searcher.rank over the project's Collection; query vectors precomputed except e2e)", "",
             ("| rows | dense index | build s | dense p50/p95/p99 | BM25 p50/p95/p99 | hybrid p50/p95/p99 | "
              "hybrid e2e p50/p95/p99 | LangChain ensemble p50/p95/p99 | LangChain e2e p50/p95/p99 | hybrid ÷ LangChain (p50) | "
              "peak RSS MiB |"), "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, e in search.items():
        lat, lc = e["latency"], e.get("langchain")
        lines.append(f"| {int(n):,}{' (synthetic)' if e['synthetic'] else ''} | {e['dense_kind']} | {e['build_s']:.1f} | "
                     f"{_cell(lat['dense'])} | {_cell(lat['bm25'])} | {_cell(lat['hybrid'])} | {_cell(lat['hybrid_e2e'])} | "
                     f"{_cell(lc['ensemble']) if lc else '–'} | {_cell(lc['ensemble_e2e']) if lc else '–'} | "
                     f"{_ratio(lat['hybrid']['p50_ms'], lc['ensemble']['p50_ms'] if lc else None)} | {e['peak_rss_mb_after']:.0f} |")
    first = next(iter(search.values()))
    unbaselined = [f"{int(n):,}" for n, e in search.items() if "langchain" not in e]
    lines += ["", f"e2e embeds the query each time (m3e-small, CPU; query embedding alone p50 "
              f"{first['latency']['query_embedding']['p50_ms']:.1f} ms). "
              "Rows beyond the real chunks are synthetic: replicas with sentences shuffled (one dropped 30% of the time) "
              f"and a numeric suffix token; vectors are the source chunk's plus N(0, {NOISE_SIGMA}²) noise, renormalised. "
              "BM25 tokens of replicas reuse the per-sentence tokens of the source chunk. "
              + (f"LangChain ensemble not built at {', '.join(unbaselined)} rows. " if unbaselined else "")
              + ("GPU: measured (see JSON latency_gpu)." if any("latency_gpu" in e for e in search.values())
                 else "GPU 未测量 (no GPU: dense search ran on the CPU only)."), ""]
    target = search.get(str(TARGET_ROWS))
    if target:
        p95 = target["latency"]["hybrid_e2e"]["p95_ms"]
        lines += [(f"Target: hybrid p95 ≤ {TARGET_P95_MS:.0f} ms at {TARGET_ROWS:,} rows, end to end: {p95:.1f} ms, "
                   f"{'met' if p95 <= TARGET_P95_MS else 'not met'}."), ""]
    return lines


def _baseline(b: dict) -> list[str]:
    lc, us = b["langchain"], b["project_hybrid"]
    lines = [f"## Peer baseline: same {b['chunks']} chunks, same m3e-small, {b['questions']} dev questions", "",
             "| system | hit@5 | p50 ms | p95 ms | p50 ratio to baseline |", "|---|---|---|---|---|",
             f"| LangChain FAISS + BM25Retriever in EnsembleRetriever (baseline) | {lc['hit@5']:.2f} | {lc['p50_ms']:.1f} | {lc['p95_ms']:.1f} | 1× |",
             (f"| project hybrid (Searcher.search, full path incl. lookup + DuckDB) | {us['hit@5']:.2f} | {us['p50_ms']:.1f} | "
              f"{us['p95_ms']:.1f} | {_ratio(us['p50_ms'], lc['p50_ms'])} |"), ""]
    if "peer_embedding" in b:
        ratio, target = b["p50_ratio"], b["target_p50_ratio"]
        lines += [(f"One process, each question asked of both in turn, {b['rounds']} rounds. Query embedding: peer "
                   f"{b['peer_embedding']}; project {b['project_embedding']}{'（' + b['project_embedding_notice'] + '）' if b['project_embedding_notice'] else ''}. "
                   f"Both search the index's stored chunk vectors. Target: project p50 ≤ {target:.2f}× the peer's: "
                   f"{ratio:.2f}×, {'met' if ratio <= target else 'not met'}."), ""]
    return lines


def _review(r: dict) -> list[str]:
    lines = ["## Review (rules only, no LLM)", "", "| what | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|",
             f"| full review of each dev draft ({r['drafts']}; rules, grounding, cases) | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} |"]
    if "rules_stage_2000_chars" in r:
        s = r["rules_stage_2000_chars"]
        lines.append(f"| rules stage alone, one 2,000-character draft (×{s['n']}) | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} | {s['p99_ms']:.2f} |")
    return [*lines, ""]


def _review_llm(r: dict) -> list[str]:
    if r.get("skipped"):
        return [f"Review, model stage: not measured ({r['reason']}).", ""]
    c = r["chars"]
    fewer = f" (asked for {r['asked']}; the shipped set has no more)" if r["drafts"] < r["asked"] else ""
    failed = ", ".join(f"{code} {n}" for code, n in r["failed"].items()) or "none"

    def row(what: str, stats: dict) -> str:
        cells = f"{stats['p50_s']:.2f} | {stats['p95_s']:.2f}" if stats["n"] else "– | –"
        return f"| {what} | {stats['n']} | {cells} |"

    title = f"## Review, model stage ({r['drafts']} dev drafts of {c['min']}–{c['max']} characters, mean {c['mean']:.0f}{fewer}; {r['backend']})"
    return [title, "",
            "| what (drafts where the model stage ran) | n | p50 s | p95 s |", "|---|---|---|---|",
            row("model requests per draft", r["model_s"]), row("model requests per 400 characters", r["model_s_per_400_chars"]),
            row("whole review per draft (rules, genre, model, gate, cases)", r["review_s"]), "",
            (f"Model stage ran on {r['ran']} of {r['drafts']} drafts ({r['share_ran']:.0%}); skipped because the rules covered "
             f"every sentence on {r['covered']} ({r['share_covered']:.0%}); failed: {failed}. Backend start-up {r['startup_s']:.1f} s."), ""]


def _llm(llm: dict) -> list[str]:
    if llm.get("skipped"):
        return [f"LLM: not measured ({llm.get('reason')}).", ""]
    return ["## LLM (one grounded question via assistant.qa.answer.ask)", "", "| backend | TTFT s | total s | startup s |",
            "|---|---|---|---|", f"| {llm['backend']} | {llm['ttft_s']} | {llm['total_s']} | {llm['startup_s']} |", ""]


def _qa(q: dict) -> list[str]:
    if q.get("skipped"):
        return [f"Chat answers: not measured ({q['reason']}).", ""]
    t, ttft, total = q["targets"], q["ttft_s"], q["total_s"]

    def cells(stats: dict) -> str:
        return f"{stats['p50_s']:.2f} | {stats['p95_s']:.2f}" if stats["n"] else "– | –"

    def chars(c: dict) -> str:
        return f"{c['p50']} / {c['max']}" if c["n"] else "–"

    def verdict(flag: bool | None) -> str:
        return "–" if flag is None else ("met" if flag else "not met")

    fewer = f" (asked for {q['asked']}; the dev set has no more)" if q["questions"] < q["asked"] else ""
    w = q["warmup"]
    return [f"## Chat answers ({q['questions']} dev questions{fewer} via stream_answer after one warm-up; {q['backend']})", "",
            "| what (answers the model wrote) | n | p50 s | p95 s |", "|---|---|---|---|",
            f"| time to first token (from the question: rewrite, retrieval, prompt) | {ttft['n']} | {cells(ttft)} |",
            f"| full answer (verified) | {total['n']} | {cells(total)} |", "",
            (f"Prompt characters p50 / max {chars(q['prompt_chars'])} (system message {chars(q['system_chars'])}); answer "
             f"characters {chars(q['answer_chars'])}. Not timed: {q['no_model']} with no basis (no model call), "
             f"{q['model_failed']} whose model call failed. Warm-up ({w['id']}, not counted): first token "
             f"{w['ttft_s'] if w['ttft_s'] is not None else '–'} s, full {w['total_s']} s. Backend start-up {q['startup_s']:.1f} s. "
             f"Load average (1/5/15 min) before {q['loadavg']['before']}, after {q['loadavg']['after']}."), "",
            (f"Targets (idle 2-core machine): first token ≤ {t['ttft_s']:g} s: p50 {verdict(t['ttft_p50_met'])}, p95 "
             f"{verdict(t['ttft_p95_met'])}; full answer ≤ {t['total_s']:g} s: p50 {verdict(t['total_p50_met'])}, p95 "
             f"{verdict(t['total_p95_met'])}."), ""]


def _api(a: dict, cores: int | None) -> list[str]:
    lat, kinds = a["latency"], ", ".join(f"{k} {n}" for k, n in a["error_kinds"].items()) or "none"
    cells = f"{lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} / {lat['p99_ms']:.1f}" if lat["n"] else "– / – / –"
    cpu = a["cpu_s"]
    target = a["target"]
    return [f"## API under load (comply serve --no-llm; POST /v1/search, k={a['k']}, over {a['queries']} dev questions)", "",
            "| clients | seconds | requests | errors | throughput req/s | p50 / p95 / p99 ms |", "|---|---|---|---|---|---|",
            f"| {a['clients']} | {a['wall_s']:.1f} | {a['requests']} | {a['errors']} ({kinds}) | {a['throughput_rps']:.1f} | {cells} |", "",
            (f"Clients and service on the same machine ({cores} cores): CPU seconds used in the window, service "
             f"{cpu['server'] if cpu['server'] is not None else '–'}, bench clients {cpu['bench_clients']}. {a['token'].capitalize()}. "
             f"Service start {a['startup_s']:.1f} s, first search {a['warmup_s'] * 1000:.0f} ms (not counted), stop (SIGINT) "
             f"{a['stop_s']:.1f} s, exit code {a['exit_code']}. Latency over answered searches."), "",
            (f"Target: p95 ≤ {target['p95_ms']:.0f} ms with no errors: "
             f"{lat['p95_ms'] if lat['n'] else '–'} ms, {a['errors']} errors, {'met' if target['met'] else 'not met'}."), ""]


def _jobs(j: dict, cores: int | None) -> list[str]:
    if j.get("skipped"):
        return [f"Batch-review jobs: not measured ({j['reason']}).", ""]
    runs, c = j["runs"], j["chars"]
    first = runs[0]["drafts_per_s"] if runs and runs[0]["workers"] == 1 else None
    counted = all("llm_requests" in r for r in runs)

    def row(r: dict) -> str:
        other = ", ".join(f"{code} {n}" for code, n in r["model_other"].items())
        model = f"{r['model_ran']} ran, {r['model_covered']} covered" + (f", {other}" if other else "")
        return (f"| {r['workers']} | {r['drafts']} | {r['wall_s']:.1f} | {r['drafts_per_s']:.2f} | "
                f"{_ratio(r['drafts_per_s'], first)} | {r['failed']} | {model} |" + (f" {r['llm_requests']} |" if counted else ""))

    return [(f"## Batch-review jobs through the service (POST /v1/jobs/review, model stage on; {j['drafts']} drafts of "
             f"{c['min']}–{c['max']} characters, mean {c['mean']:.0f}; LLM at {j['llm_url']})"), "",
            "| workers (concurrent reviews) | drafts | wall s | drafts/s | speed-up vs 1 | failed | model stage |"
            + (" LLM requests |" if counted else ""),
            "|---|---|---|---|---|---|---|" + ("---|" if counted else ""), *[row(r) for r in runs], "",
            (f"One comply serve per row (COMPLY_SERVICE_WORKERS = workers), stopped with SIGINT after it; bench client and "
             f"service on the same machine ({cores} cores). Wall time from submission until GET /v1/jobs/{{id}} "
             "said done, after a warm-up job of one draft per worker (not counted). "
             + ("LLM requests: the server's tgi_request_count during the timed job. " if counted else "")
             + f"{j['token'].capitalize()}."), ""]


def markdown(report: dict) -> str:
    """The report as Markdown: machine, then one table per measure, with medians and ratios to the baseline."""
    m = report["machine"]
    lines = ["# comply bench", "",
             (f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}, "
              f"torch {m['torch']}, faiss {m['faiss']}; GPU: {m['gpu']}."), ""]
    if "ingest" in report:
        lines += _ingest(report["ingest"])
    if "embed" in report:
        lines += _embed(report["embed"])
    if "search" in report:
        lines += _search(report["search"])
    if "baseline" in report:
        lines += _baseline(report["baseline"])
    if "review" in report:
        lines += _review(report["review"])
    if "review-llm" in report:
        lines += _review_llm(report["review-llm"])
    if "qa" in report:
        lines += _qa(report["qa"])
    if "api" in report:
        lines += _api(report["api"], m["cores"])
    if "jobs" in report:
        lines += _jobs(report["jobs"], m["cores"])
    lines += _llm(report.get("llm", {"skipped": True, "reason": "not requested (--llm not given)"}))
    lines += ["## Peak RSS per stage (MiB, process peak so far: monotonic)", "", "| stage | wall s | peak RSS MiB |", "|---|---|---|"]
    lines += [f"| {k} | {v['wall_s']:.1f} | {v['peak_rss_mb_after']:.0f} |" for k, v in report.get("stages", {}).items()]
    return "\n".join(lines) + "\n"
