// node:http and node:https for the gateway's own modules, without importing them as ES modules.
// An `import ... from 'node:http'` builds the module's namespace, which reads every export, and
// three of them (WebSocket, CloseEvent, MessageEvent) are getters that load Node's bundled undici
// and web streams, which the gateway never uses: 2-4 MB of its memory (docs/performance.md,
// change 14).
// process.getBuiltinModule hands back the module object itself, whose getters stay unread.
// Type-only imports from 'node:http' cost nothing and stay as they are.
export const http = process.getBuiltinModule('node:http');
export const https = process.getBuiltinModule('node:https');
