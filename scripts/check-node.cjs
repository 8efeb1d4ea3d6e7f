// Run before `npm run dev`, `npm test` and `npm start` (their pre-scripts): on a Node.js too old to
// run the TypeScript sources, one message saying which Node this is, which one is needed and how to
// get it, instead of ERR_UNKNOWN_FILE_EXTENSION or a crash deep inside a tool. Plain CommonJS in
// old syntax, so any Node can run it far enough to say so.
'use strict';

var NEEDED = [22, 19];

var found = process.versions.node;
var parts = found.split('.').map(Number);
if (parts[0] > NEEDED[0] || (parts[0] === NEEDED[0] && parts[1] >= NEEDED[1])) process.exit(0);

// The command that was run, to show how to run it again under Node 24 ("npm run dev", "npm test").
var script = process.env.npm_lifecycle_event || '';
var name = script.replace(/^pre/, '');
var command = name === 'test' || name === 'start' ? 'npm ' + name : name ? 'npm run ' + name : 'npm run dev';

process.stderr.write(
  [
    'secure-llm-router needs Node.js ' + NEEDED.join('.') + ' or newer (24 LTS recommended); this is Node.js ' + found + ' (' + process.execPath + ').',
    'Get Node 24 with `nvm install` or `fnm use --install-if-missing` (both read .nvmrc),',
    'or run each npm command with Node 24 from the npm registry: npx -y -p node@24 -- ' + command,
  ].join('\n') + '\n',
);
process.exit(1);
