"""The DuckDB schema as an ordered list of small migrations, each recorded in ``_migrations``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import duckdb

Migration = Callable[[duckdb.DuckDBPyConnection], None]


def m001_corpus(con: duckdb.DuckDBPyConnection) -> None:
    """Documents, their chunks, and the embedding cache."""
    con.execute(
        """
        CREATE TABLE documents (
            doc_id VARCHAR PRIMARY KEY,
            doc_key VARCHAR NOT NULL,          -- stable identity: the file stem
            title VARCHAR NOT NULL,
            doc_type VARCHAR NOT NULL,         -- 'regulation' | 'text'
            source_path VARCHAR,
            content_hash VARCHAR NOT NULL,
            issuer VARCHAR,
            doc_number VARCHAR,
            version_date VARCHAR,
            status VARCHAR,
            header VARCHAR,
            level INTEGER NOT NULL DEFAULT 0,
            state VARCHAR NOT NULL,            -- 'live' | 'held' | 'replaced' | 'deleted' | 'rejected'
            version INTEGER NOT NULL,
            n_chunks INTEGER NOT NULL,
            flags JSON,
            ingested_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE chunks (
            chunk_id VARCHAR PRIMARY KEY,
            doc_id VARCHAR NOT NULL,
            ord INTEGER NOT NULL,
            article VARCHAR,                   -- e.g. 第八十条; NULL for paragraph chunks
            article_no INTEGER,
            part VARCHAR, chapter VARCHAR, section VARCHAR,
            paragraphs VARCHAR,                -- e.g. '1-2' when an article is split by 款
            path VARCHAR NOT NULL,
            text VARCHAR NOT NULL,
            text_hash VARCHAR NOT NULL
        )
        """
    )
    con.execute(
        "CREATE TABLE embeddings (text_hash VARCHAR, model VARCHAR, vec FLOAT[], PRIMARY KEY (text_hash, model))"
    )


def m002_cases(con: duckdb.DuckDBPyConnection) -> None:
    """Penalty / supervisory cases and their cited provisions."""
    con.execute(
        """
        CREATE TABLE cases (
            case_id VARCHAR PRIMARY KEY,
            title VARCHAR NOT NULL,
            authority VARCHAR, date VARCHAR, doc_number VARCHAR,
            party VARCHAR, party_type VARCHAR, measure_type VARCHAR, penalty VARCHAR,
            violation_summary VARCHAR, tags JSON,
            legal_basis_violated JSON, legal_basis_penalty JSON,
            marketing_related BOOLEAN, text_type VARCHAR, full_text VARCHAR, source VARCHAR,
            level INTEGER NOT NULL DEFAULT 0,
            content_hash VARCHAR NOT NULL,
            source_path VARCHAR,
            state VARCHAR NOT NULL,            -- 'live' | 'deleted'
            ingested_at TIMESTAMP NOT NULL,
            raw JSON NOT NULL                  -- the record as ingested (re-parsed when re-linking)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE case_citations (
            case_id VARCHAR NOT NULL,
            role VARCHAR NOT NULL,             -- 'violated' | 'penalty' | 'text'
            raw VARCHAR NOT NULL,
            law VARCHAR, article VARCHAR, article_no INTEGER,
            doc_key VARCHAR, chunk_id VARCHAR,
            note VARCHAR                       -- why it did not resolve, when it did not
        )
        """
    )


def m003_index_and_audit(con: duckdb.DuckDBPyConnection) -> None:
    """Index versions (the live pointer) and the hash-chained audit log."""
    con.execute(
        """
        CREATE TABLE index_versions (
            version INTEGER PRIMARY KEY,
            path VARCHAR NOT NULL,
            state VARCHAR NOT NULL,            -- 'live' | 'retired'
            n_chunks INTEGER, n_cases INTEGER,
            embed_model VARCHAR, dense_kind VARCHAR,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE audit_log (
            seq BIGINT PRIMARY KEY,
            ts VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            target VARCHAR,
            detail JSON,
            prev_hash VARCHAR NOT NULL,
            hash VARCHAR NOT NULL
        )
        """
    )


def m004_users(con: duckdb.DuckDBPyConnection) -> None:
    """Accounts of the app (argon2id password hashes) and login attempts for rate limiting."""
    con.execute(
        """
        CREATE TABLE users (
            username VARCHAR PRIMARY KEY,
            display_name VARCHAR NOT NULL,
            role VARCHAR NOT NULL,             -- 'compliance' | 'marketer' | 'evaluator' | 'admin'
            clearance INTEGER NOT NULL,        -- rank in comply.levels.LEVELS
            password_hash VARCHAR NOT NULL,    -- argon2id, salted (PHC string)
            disabled BOOLEAN NOT NULL DEFAULT FALSE,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            password_changed_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE login_attempts (
            username VARCHAR NOT NULL,         -- as typed (unknown names are counted too)
            ts TIMESTAMP NOT NULL,             -- UTC
            ok BOOLEAN NOT NULL,
            reason VARCHAR                     -- 'ok' | 'invalid' | 'unknown_user' | 'disabled'
        )
        """
    )


def m005_chat(con: duckdb.DuckDBPyConnection) -> None:
    """Chat history kept on the server: conversations, messages with their citations, and feedback."""
    con.execute("CREATE SEQUENCE conversation_touch_seq")
    con.execute("CREATE SEQUENCE message_id_seq")
    con.execute(
        """
        CREATE TABLE conversations (
            id VARCHAR PRIMARY KEY,            -- uuid4 hex
            username VARCHAR NOT NULL,         -- owner
            title VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            touch BIGINT NOT NULL              -- increases on every change: orders the list strictly
        )
        """
    )
    con.execute(
        """
        CREATE TABLE messages (
            id BIGINT PRIMARY KEY DEFAULT nextval('message_id_seq'),
            conversation_id VARCHAR NOT NULL,
            role VARCHAR NOT NULL,             -- 'user' | 'assistant'
            content VARCHAR NOT NULL,
            citations JSON NOT NULL,
            cases JSON NOT NULL,
            clauses JSON NOT NULL,
            meta JSON NOT NULL,
            created_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE feedback (
            message_id BIGINT NOT NULL,
            username VARCHAR NOT NULL,
            rating INTEGER NOT NULL,           -- +1 | -1
            correction VARCHAR,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (message_id, username)
        )
        """
    )


def m006_oidc(con: duckdb.DuckDBPyConnection) -> None:
    """The identity-provider e-mail an account may sign in with (optional OIDC single sign-on)."""
    con.execute("ALTER TABLE users ADD COLUMN oidc_email VARCHAR")


def m007_eval_runs(con: duckdb.DuckDBPyConnection) -> None:
    """Stored evaluation runs: suite, code version, settings, model, dataset identity and metrics."""
    con.execute(
        """
        CREATE TABLE eval_runs (
            run_id VARCHAR PRIMARY KEY,
            suite VARCHAR NOT NULL,            -- 'retrieval' | 'review' | 'cases' | 'qa' | …
            created_at TIMESTAMP NOT NULL,     -- UTC
            git_commit VARCHAR,                -- `git rev-parse HEAD`, NULL outside a checkout
            config JSON NOT NULL,              -- the Settings fields the suite depends on
            model VARCHAR,                     -- LLM model, when the suite used one
            dataset_path VARCHAR NOT NULL,
            dataset_sha256 VARCHAR NOT NULL,
            metrics JSON NOT NULL              -- the suite's full report
        )
        """
    )


def m008_clients(con: duckdb.DuckDBPyConnection) -> None:
    """Client profiles and holdings, the day's market summary, and consents to use client data."""
    con.execute(
        """
        CREATE TABLE clients (
            client_id VARCHAR PRIMARY KEY,
            name VARCHAR,                      -- NULL once purged
            risk_tolerance INTEGER,            -- 1..5 = C1..C5; NULL once purged
            investor_type VARCHAR,             -- '普通投资者' | '专业投资者'
            age INTEGER,
            advisor VARCHAR,                   -- the account manager's username, if any
            synthetic BOOLEAN NOT NULL DEFAULT FALSE,
            state VARCHAR NOT NULL,            -- 'active' | 'purged'
            source_sha256 VARCHAR,             -- hash of the imported file
            imported_at TIMESTAMP NOT NULL
        )
        """
    )
    con.execute(
        """
        CREATE TABLE holdings (
            client_id VARCHAR NOT NULL,
            as_of VARCHAR NOT NULL,            -- YYYY-MM-DD
            code VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            product_type VARCHAR NOT NULL,     -- 股票 / 股票型基金 / 混合型基金 / 债券型基金 / 货币市场基金 / …
            risk_level INTEGER NOT NULL,       -- 1..5 = R1..R5
            quantity DOUBLE,
            market_value DOUBLE NOT NULL,
            cost DOUBLE,
            PRIMARY KEY (client_id, as_of, code)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE market_summary (
            date VARCHAR NOT NULL,             -- YYYY-MM-DD
            item VARCHAR NOT NULL,             -- 上证指数 / 沪深300 / 银行板块 / …
            kind VARCHAR NOT NULL,             -- 'index' | 'sector' | 'news'
            close DOUBLE,
            change_pct DOUBLE,
            note VARCHAR,
            PRIMARY KEY (date, item)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE consents (
            consent_id VARCHAR PRIMARY KEY,
            client_id VARCHAR NOT NULL,
            purpose VARCHAR NOT NULL,          -- a personalised-material kind, e.g. 'daily_commentary'
            document_name VARCHAR NOT NULL,
            document_sha256 VARCHAR NOT NULL,
            granted_at TIMESTAMP NOT NULL,
            granted_by VARCHAR NOT NULL,
            grant_seq BIGINT NOT NULL,         -- the audit_log row of the grant
            revoked_at TIMESTAMP,
            revoked_by VARCHAR,
            revoke_seq BIGINT
        )
        """
    )


def m009_generation(con: duckdb.DuckDBPyConnection) -> None:
    """Batch generation jobs and their per-client items (a job resumes where it stopped)."""
    con.execute(
        """
        CREATE TABLE generation_jobs (
            job_id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,             -- 'daily_commentary' | 'morning_note' | 'evening_note' | 'holdings_diagnosis'
            market_date VARCHAR NOT NULL,
            created_by VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            state VARCHAR NOT NULL             -- 'running' | 'done'
        )
        """
    )
    con.execute(
        """
        CREATE TABLE generation_items (
            job_id VARCHAR NOT NULL,
            client_id VARCHAR NOT NULL,
            state VARCHAR NOT NULL,            -- 'pending' | 'done' | 'skipped' | 'failed' | 'purged'
            text VARCHAR,
            review JSON,                       -- the final review report of the text
            rounds INTEGER,
            mode VARCHAR,                      -- 'llm' | 'template'
            reason VARCHAR,                    -- why skipped or failed
            finished_at TIMESTAMP,
            PRIMARY KEY (job_id, client_id)
        )
        """
    )


def m010_audit_signatures(con: duckdb.DuckDBPyConnection) -> None:
    """Each audit row's signature by the installation key (rows written before this stay unsigned)."""
    con.execute("ALTER TABLE audit_log ADD COLUMN sig VARCHAR")


def m011_signin_sources(con: duckdb.DuckDBPyConnection) -> None:
    """Where sign-ins come from: the source of each attempt, sources known to be good, and failures per source and window."""
    con.execute("ALTER TABLE login_attempts ADD COLUMN source_hash VARCHAR")  # NULL: the caller gave no source
    con.execute(
        """
        CREATE TABLE signin_sources (
            username VARCHAR NOT NULL,
            source_hash VARCHAR NOT NULL,      -- SHA-256 of the source the caller passed (never the source itself)
            first_ok TIMESTAMP NOT NULL,       -- UTC
            last_ok TIMESTAMP NOT NULL,
            PRIMARY KEY (username, source_hash)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE signin_windows (
            source_hash VARCHAR NOT NULL,      -- '' for callers that give no source
            window_start TIMESTAMP NOT NULL,   -- UTC, a multiple of the window length
            failures INTEGER NOT NULL,         -- failed sign-ins from the source (all names)
            unknown INTEGER NOT NULL,          -- of which for names that are no account
            refused INTEGER NOT NULL,          -- attempts refused unchecked (back-off)
            last_failure TIMESTAMP,
            flushed BOOLEAN NOT NULL,          -- its auth.failed_burst row is written (or none was needed)
            PRIMARY KEY (source_hash, window_start)
        )
        """
    )


def m012_document_status_note(con: duckdb.DuckDBPyConnection) -> None:
    """Why a document's status is what it is (e.g. the catalogue lists a newer version), shown wherever it is cited."""
    con.execute("ALTER TABLE documents ADD COLUMN status_note VARCHAR")


def m013_review_library(con: duckdb.DuckDBPyConnection) -> None:
    """Labelled drafts (imported datasets and reviewers' decisions), the library that review learns from."""
    con.execute(
        """
        CREATE TABLE review_library_drafts (
            id VARCHAR PRIMARY KEY,
            source VARCHAR NOT NULL,           -- the dataset's name, or 'reviewer'
            genre VARCHAR,
            text VARCHAR NOT NULL,
            text_sha256 VARCHAR UNIQUE NOT NULL,
            level INTEGER NOT NULL DEFAULT 0,
            added_by VARCHAR,
            added_at TIMESTAMP
        )
        """
    )
    con.execute(
        """
        CREATE TABLE review_library_labels (
            draft_id VARCHAR NOT NULL,
            start_pos INTEGER NOT NULL,        -- character offsets in the draft's text
            end_pos INTEGER NOT NULL,
            category VARCHAR NOT NULL,
            polarity SMALLINT NOT NULL,        -- 1: the span violates the category; -1: a reviewer said it does not
            note VARCHAR,
            origin VARCHAR NOT NULL,           -- 'import' | 'accept' | 'dismiss' | 'missed'
            finding_source VARCHAR,            -- what raised a decided finding (rule / model / llm …)
            rule_id VARCHAR,
            reviewer VARCHAR,
            created_at TIMESTAMP
        )
        """
    )


def m014_service(con: duckdb.DuckDBPyConnection) -> None:
    """API tokens (stored hashed) and the service's jobs with their items (resumed after a restart)."""
    con.execute(
        """
        CREATE TABLE api_tokens (
            token_id VARCHAR PRIMARY KEY,
            token_sha256 VARCHAR UNIQUE NOT NULL,  -- SHA-256 of the token; the token itself is shown once, never stored
            username VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            created_by VARCHAR,
            created_at TIMESTAMP NOT NULL,
            expires_at TIMESTAMP,                  -- UTC; NULL: never
            revoked_at TIMESTAMP
        )
        """
    )
    con.execute(
        """
        CREATE TABLE service_jobs (
            job_id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,             -- 'review'
            username VARCHAR NOT NULL,
            clearance INTEGER NOT NULL,        -- the submitter's clearance when submitted (results never exceed it)
            options JSON,
            state VARCHAR NOT NULL,            -- 'queued' | 'running' | 'done'
            total INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        )
        """
    )
    con.execute(
        """
        CREATE TABLE service_job_items (
            job_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            item_id VARCHAR,
            input VARCHAR,                     -- the draft text ('' for a line that could not be read)
            state VARCHAR NOT NULL,            -- 'pending' | 'done' | 'error'
            result JSON,
            error VARCHAR,
            finished_at TIMESTAMP,
            PRIMARY KEY (job_id, seq)
        )
        """
    )


MIGRATIONS: list[tuple[str, Migration]] = [
    ("001_corpus", m001_corpus),
    ("002_cases", m002_cases),
    ("003_index_and_audit", m003_index_and_audit),
    ("004_users", m004_users),
    ("005_chat", m005_chat),
    ("006_oidc", m006_oidc),
    ("007_eval_runs", m007_eval_runs),
    ("008_clients", m008_clients),
    ("009_generation", m009_generation),
    ("010_audit_signatures", m010_audit_signatures),
    ("011_signin_sources", m011_signin_sources),
    ("012_document_status_note", m012_document_status_note),
    ("013_review_library", m013_review_library),
    ("014_service", m014_service),
]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; return their names."""
    con.execute("CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP)")
    done = {row[0] for row in con.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, step in MIGRATIONS:
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            step(con)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", [name, datetime.now(timezone.utc)])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
