// Tokens and requests per client and day, from the usage records (DATABASE_URL).
//   npm run usage -- --since 7d      (also 24h, 30d; default 7d)
import dotenv from 'dotenv';
import pg from 'pg';
import { parseArgs } from 'node:util';

dotenv.config({ quiet: true });
const { values } = parseArgs({ options: { since: { type: 'string', default: '7d' } } });
const match = /^(\d{1,4})([hd])$/.exec(values.since ?? '');
if (!match) {
  process.stderr.write('--since takes a number of hours or days, such as 24h or 7d\n');
  process.exit(2);
}
const url = process.env.DATABASE_URL;
if (url === undefined || url === '') {
  process.stderr.write('DATABASE_URL is not set: usage records are kept only when it is (see docs/scaling.md)\n');
  process.exit(2);
}
const interval = `${match[1]} ${match[2] === 'h' ? 'hours' : 'days'}`;
const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
try {
  await client.connect();
  const { rows } = await client.query<{ day: string; client: string; requests: string; prompt: string; completion: string; reasoning: string }>(
    `SELECT to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, client, count(*) AS requests,
            coalesce(sum(prompt_tokens), 0) AS prompt, coalesce(sum(completion_tokens), 0) AS completion, coalesce(sum(reasoning_tokens), 0) AS reasoning
       FROM usage_records WHERE at >= now() - $1::interval GROUP BY 1, 2 ORDER BY 1, 2`,
    [interval],
  );
  const table = [['day (UTC)', 'client', 'requests', 'prompt tokens', 'completion tokens', 'of which reasoning'], ...rows.map((r) => [r.day, r.client, r.requests, r.prompt, r.completion, r.reasoning])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
  for (const row of table) process.stdout.write(`${row.map((cell, i) => (i < 2 ? String(cell).padEnd(widths[i]!) : String(cell).padStart(widths[i]!))).join('  ')}\n`);
  if (rows.length === 0) process.stdout.write(`(no requests in the last ${interval})\n`);
} catch (error) {
  process.stderr.write(`usage records could not be read: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => undefined);
}
