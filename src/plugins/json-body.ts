// JSON bodies, read by Fastify's own parser (prototype poisoning refused), with a syntax error
// that says where it is: Fastify's answer drops the parser's position.
import type { FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { GatewayError } from '../errors.ts';

/** Line and column (both from 1) of a character offset. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * Why a body that would not parse is not JSON, from V8's own message, run again only on this
 * failure path. The message keeps V8's reason and position, never a snippet of the body.
 */
export function invalidJson(body: string): GatewayError {
  let reason: string;
  try {
    JSON.parse(body);
    // It parses: the default parser refused a "__proto__" or "constructor" key.
    return new GatewayError('invalid_request', { message: 'The request body may not hold a "__proto__" or "constructor" key.' });
  } catch (error) {
    const text = (error as SyntaxError).message;
    const at = /^(.*?)(?: in JSON)? at position (\d+)/.exec(text);
    const token = /^Unexpected token '(.)'/u.exec(text);
    if (at) reason = `${at[1]} at ${lineAndColumn(body, Number(at[2]))}`;
    else if (text.startsWith('Unexpected end of JSON input')) reason = `it ends (${lineAndColumn(body, body.length)}) before the JSON is complete`;
    else if (token) reason = `unexpected token '${token[1]}'`;
    else return new GatewayError('invalid_request', { message: 'The request body is not valid JSON.' });
  }
  return new GatewayError('invalid_request', { message: `The request body is not valid JSON: ${reason[0]?.toLowerCase()}${reason.slice(1)}.` });
}

export default fp(
  async function jsonBody(app) {
    const parse = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      // parseAs 'string': the body is a string, whatever the callback's type says.
      const text = body as string;
      parse(request, text, (error: Error | null, value?: unknown) => {
        if ((error as FastifyError | null)?.code === 'FST_ERR_CTP_INVALID_JSON_BODY') done(invalidJson(text), undefined);
        else done(error, value);
      });
    });
  },
  { name: 'json-body' },
);
