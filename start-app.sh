#!/bin/sh
# Container entry point: check the environment, say what will run, then replace this shell with
# Node so that SIGTERM from the platform reaches the server (which drains, then exits 0).
set -eu
cd "$(dirname "$0")"

# The image's Node is 24; anywhere else, a Node too old to run the TypeScript sources is named at
# once, as `npm start` does (scripts/check-node.cjs), rather than failing on the first import.
node_version=$(node --version 2>/dev/null || echo none)
case $node_version in
  v22.19.* | v22.[2-9][0-9].* | v2[3-9].* | v[3-9][0-9].* | v[1-9][0-9][0-9].*) ;;
  *)
    echo "start-app.sh: this gateway needs Node.js 22.19 or newer (24 LTS recommended); this is Node.js ${node_version#v}: run the Docker image (Node 24), or install Node 24 (nvm install 24)" >&2
    exit 1
    ;;
esac

# The server trims every value, so a value of only blanks (and commas, for API_KEYS) is unset.
blank() { [ -z "$(printf '%s' "$1" | tr -d "[:space:]${2:-}")" ]; }

if blank "${API_KEYS:-}" ,; then
  echo "start-app.sh: API_KEYS is not set; set it to a comma-separated list of client keys (make one with: node -p \"require('node:crypto').randomBytes(24).toString('base64url')\")" >&2
  exit 1
fi

# Only the providers PROVIDER_ORDER names are used (a name it does not know stops the server,
# with a message of its own).
order=$(printf '%s' "${PROVIDER_ORDER:-}" | tr ',' ' ')
if blank "$order"; then order="gemini groq openrouter"; fi
configured=""
for provider in $order; do
  case $provider in
    gemini) key=${GEMINI_API_KEY:-} ;;
    groq) key=${GROQ_API_KEY:-} ;;
    openrouter) key=${OPENROUTER_API_KEY:-} ;;
    *) key="" ;;
  esac
  if ! blank "$key"; then configured="$configured $provider"; fi
done

case $(printf '%s' "${SIMULATED_PROVIDERS:-}" | tr '[:upper:]' '[:lower:]') in
  true | 1 | yes | on) simulated=true ;;
  *) simulated=false ;;
esac

if [ "$simulated" = true ]; then
  echo "start-app.sh: providers: simulated (SIMULATED_PROVIDERS=true); answers are not real"
elif [ -z "$configured" ]; then
  echo "start-app.sh: WARNING: no provider in PROVIDER_ORDER ($(echo $order | tr ' ' ',')) has a key (GEMINI_API_KEY, GROQ_API_KEY, OPENROUTER_API_KEY); every /query will answer 503" >&2
else
  echo "start-app.sh: providers configured:$configured"
fi
echo "start-app.sh: starting on ${HOST:-0.0.0.0}:${PORT:-7860}"

# The same command as `npm start`. A smaller young generation, and glibc returning freed blocks of
# 16 KiB and more to the system at once, keep memory down under load (docs/performance.md).
exec env MALLOC_MMAP_THRESHOLD_=16384 node --max-semi-space-size=4 src/server.ts
