/**
 * Versioned schema of `faraday.sqlite`. Append only: never edit a migration that has shipped.
 * Each capability adds its tables here with the next version number.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "secret store and key-value settings",
    sql: `
      CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "agent sessions and transcripts",
    sql: `
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        chat TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        message_count INTEGER NOT NULL DEFAULT 0,
        summary TEXT,
        summary_through INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        turns INTEGER NOT NULL DEFAULT 0,
        last_model TEXT
      );
      CREATE UNIQUE INDEX sessions_active_key ON sessions (key) WHERE active = 1;
      CREATE INDEX sessions_updated ON sessions (updated_at);
      CREATE TABLE messages (
        session_id TEXT NOT NULL REFERENCES sessions (id),
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        tool_calls TEXT,
        tool_call_id TEXT,
        tool_name TEXT,
        is_error INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
      ) WITHOUT ROWID;
      CREATE VIRTUAL TABLE messages_fts USING fts5 (content, session_id UNINDEXED, seq UNINDEXED);
      CREATE TABLE usage_daily (
        day TEXT PRIMARY KEY,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        turns INTEGER NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 3,
    name: "tool approvals and the tool-call audit log",
    sql: `
      CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        session_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        chat TEXT NOT NULL,
        requester TEXT NOT NULL,
        tool TEXT NOT NULL,
        arguments TEXT NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        decided_by TEXT,
        decided_at TEXT
      );
      CREATE INDEX approvals_pending ON approvals (status, session_id);
      CREATE TABLE tool_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        session_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        server TEXT NOT NULL,
        tool TEXT NOT NULL,
        arguments TEXT NOT NULL,
        decision TEXT NOT NULL,
        policy_reason TEXT NOT NULL,
        approved_by TEXT,
        duration_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT
      );
      CREATE INDEX tool_calls_at ON tool_calls (at);
    `,
  },
  {
    version: 4,
    name: "channel ingress, outbound progress, pairing and allowlists",
    sql: `
      CREATE TABLE ingress (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        platform_id TEXT NOT NULL,
        chat TEXT NOT NULL,
        sender TEXT NOT NULL,
        message TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        reply TEXT,
        chunks_sent INTEGER NOT NULL DEFAULT 0,
        received_at TEXT NOT NULL,
        finished_at TEXT,
        UNIQUE (channel, platform_id)
      );
      CREATE INDEX ingress_pending ON ingress (status, id);
      CREATE TABLE pairing_requests (
        channel TEXT NOT NULL,
        sender TEXT NOT NULL,
        sender_name TEXT,
        chat TEXT NOT NULL,
        code TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        PRIMARY KEY (channel, sender)
      );
      CREATE TABLE allowed_senders (
        channel TEXT NOT NULL,
        sender TEXT NOT NULL,
        sender_name TEXT,
        approved_at TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        PRIMARY KEY (channel, sender)
      );
    `,
  },
  {
    version: 5,
    name: "WhatsApp auth state (creds with a backup, signal keys)",
    sql: `
      CREATE TABLE whatsapp_creds (
        account TEXT NOT NULL,
        slot TEXT NOT NULL CHECK (slot IN ('current', 'backup')),
        data TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, slot)
      );
      CREATE TABLE whatsapp_keys (
        account TEXT NOT NULL,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (account, type, id)
      ) WITHOUT ROWID;
      CREATE INDEX ingress_chat ON ingress (channel, chat);
    `,
  },
  {
    version: 6,
    name: "WhatsApp device lists and sent messages (for retry receipts)",
    sql: `
      CREATE TABLE whatsapp_devices (
        account TEXT NOT NULL,
        user TEXT NOT NULL,
        data TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        PRIMARY KEY (account, user)
      ) WITHOUT ROWID;
      CREATE TABLE whatsapp_sent (
        account TEXT NOT NULL,
        id TEXT NOT NULL,
        jid TEXT NOT NULL,
        alt_jid TEXT,
        message BLOB NOT NULL,
        sent_at INTEGER NOT NULL,
        PRIMARY KEY (account, id)
      );
      CREATE INDEX whatsapp_sent_at ON whatsapp_sent (sent_at);
    `,
  },
  {
    version: 7,
    name: "tool catalog search index (find_tools)",
    sql: `
      CREATE VIRTUAL TABLE tool_catalog_fts USING fts5 (
        name UNINDEXED, server UNINDEXED, words, description, tokenize = 'porter unicode61'
      );
      CREATE TABLE tool_catalog_servers (
        server TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        tool_count INTEGER NOT NULL,
        indexed_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: "owners set from the CLI or dashboard, owners' DM chats, shared phone numbers, approvals asked to owners",
    sql: `
      CREATE TABLE owners (
        channel TEXT NOT NULL,
        sender TEXT NOT NULL,
        sender_name TEXT,
        added_at TEXT NOT NULL,
        added_by TEXT NOT NULL,
        PRIMARY KEY (channel, sender)
      );
      CREATE TABLE person_contacts (
        channel TEXT NOT NULL,
        sender TEXT NOT NULL,
        dm_chat TEXT,
        phone TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (channel, sender)
      );
      ALTER TABLE approvals ADD COLUMN approvers TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE approvals ADD COLUMN requester_name TEXT;
    `,
  },
  {
    version: 9,
    name: "scheduled jobs and their claimed occurrences",
    sql: `
      CREATE TABLE schedule_jobs (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL CHECK (source IN ('chat', 'config', 'api', 'heartbeat')),
        kind TEXT NOT NULL CHECK (kind IN ('message', 'instruction', 'heartbeat')),
        spec TEXT NOT NULL,
        schedule TEXT NOT NULL,
        agent_id TEXT,
        text TEXT NOT NULL,
        deliver_to TEXT NOT NULL,
        model TEXT,
        origin_channel TEXT,
        origin_chat TEXT,
        origin_sender TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        paused INTEGER NOT NULL DEFAULT 0,
        next_run INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX schedule_jobs_due ON schedule_jobs (next_run) WHERE next_run IS NOT NULL;
      CREATE INDEX schedule_jobs_origin ON schedule_jobs (origin_channel, origin_chat);
      CREATE TABLE schedule_runs (
        job_id TEXT NOT NULL,
        scheduled_at INTEGER NOT NULL,
        trigger TEXT NOT NULL CHECK (trigger IN ('due', 'catch-up', 'manual')),
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'silent', 'failed', 'refused', 'missed', 'interrupted')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        result TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, scheduled_at)
      ) WITHOUT ROWID;
      ALTER TABLE ingress ADD COLUMN sending_chunk INTEGER;
    `,
  },
];
