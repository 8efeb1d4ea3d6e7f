-- One row per request that reached the gateway's providers (or the answer cache): who asked,
-- which route, who answered, what it cost and how it ended. Written in batches by
-- src/usage/usage-recorder.ts; read by `npm run usage`.
CREATE TABLE IF NOT EXISTS usage_records (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  client text NOT NULL,
  route text NOT NULL,
  provider text,
  model text,
  prompt_tokens integer,
  completion_tokens integer,
  reasoning_tokens integer,
  latency_ms integer NOT NULL,
  status smallint NOT NULL,
  request_id text NOT NULL
);

CREATE INDEX IF NOT EXISTS usage_records_at_client ON usage_records (at, client);
