# secure-llm-router: one container for Hugging Face Spaces (or anywhere Docker runs).
# Node 24 runs the TypeScript sources directly, so there is no build step: the first stage only
# installs the production dependencies, the second copies them next to the sources.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=7860
WORKDIR /app
# The official image's "node" user has uid 1000, the uid Spaces runs containers with.
COPY --chown=node:node --from=deps /app/node_modules ./node_modules
COPY --chown=node:node package.json start-app.sh ./
COPY --chown=node:node src ./src
# The usage records' schema (DATABASE_URL), applied at start.
COPY --chown=node:node migrations ./migrations
USER node
# Compile every module (those loaded on demand too) once while building and keep the result in
# the image, so the container's first start skips most of the parsing (on 2 cores about 0.8 s to
# 0.5 s until /health answers) and never loads Node's TypeScript stripper (about 18 MB of memory).
# Node keys the cache by uid, so this runs as the user the container runs as, in its home. V8
# ignores a cache written under other V8 flags; the replay test checks that start-app.sh's flags
# still read this one.
ENV NODE_COMPILE_CACHE=/home/node/.cache/node-compile-cache
RUN node src/warm-compile-cache.ts
EXPOSE 7860
# Liveness only (the process answers): a container whose providers are all cooling down is not
# broken, and restarting it would not help. Node's own fetch: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||7860)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: SIGTERM goes to start-app.sh, which execs Node, so the server itself receives it and drains.
ENTRYPOINT ["./start-app.sh"]
