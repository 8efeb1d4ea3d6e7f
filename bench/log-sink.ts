// Reads a gateway's log lines and drops them, as a log collector would, so that the load
// generator never spends its own time on them. Passes on the one line the benchmark waits for:
// the address the gateway listens on.
let pending = '';
let found = false;
process.stdin.on('data', (chunk: Buffer) => {
  if (found) return;
  pending += chunk.toString('utf8');
  for (const line of pending.split('\n').slice(0, -1)) {
    if (!line.includes('"msg":"listening"')) continue;
    found = true;
    process.stdout.write(`${line}\n`);
    break;
  }
  pending = found ? '' : pending.slice(pending.lastIndexOf('\n') + 1);
});
