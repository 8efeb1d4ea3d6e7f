// Client keys for KEYS_FILE.
//   npm run keys -- create NAME --tier TIER   a new random key, printed once, and the entry to add
//   npm run keys -- hash                      the SHA-256 of an existing key, read from stdin
// The file stores only the hash, so a key that is lost cannot be read back: create another.
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

function fail(message: string): never {
  process.stderr.write(`${message}\nUsage: npm run keys -- create NAME --tier TIER | npm run keys -- hash < key.txt\n`);
  process.exit(2);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { tier: { type: 'string' } } });
const [command, name] = positionals;

if (command === 'create') {
  if (name === undefined || !NAME.test(name)) fail('create needs a client NAME of 1 to 64 letters, digits, _ . -');
  const tier = values.tier ?? fail('create needs --tier TIER (a tier the clients file defines)');
  if (!NAME.test(tier)) fail('--tier must be 1 to 64 letters, digits, _ . -');
  const key = randomBytes(24).toString('base64url');
  process.stdout.write(
    `Key for ${name} (shown once; give it to the client, it is not stored anywhere):\n${key}\n\n` +
      `Add to the clients: list of KEYS_FILE, then send the gateway SIGHUP (or restart it):\n` +
      `  - { name: ${name}, tier: ${tier}, key_sha256: ${sha256(key)} }\n`,
  );
} else if (command === 'hash') {
  const key = await readStdin();
  if (key.length === 0) fail('hash reads the key from stdin: echo -n "$KEY" | npm run keys -- hash');
  process.stdout.write(`${sha256(key)}\n`);
} else {
  fail(command === undefined ? 'Name a command.' : `Unknown command "${command}".`);
}
