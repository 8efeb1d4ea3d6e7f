// Tool call ids as the gateway hands them to clients. Gemini's thinking models sign each function
// call (`thoughtSignature`) and refuse the next turn when the signature is not sent back with it;
// OpenAI's wire has no field for it, but every client sends a call's id back verbatim (on the
// assistant turn and on the tool result). So the signature travels inside the id:
// `<id>.sig.<signature in base64url>`. Gemini gets it back on its part; any other provider gets
// the bare `<id>`, as it never signed anything (and some limit an id's length).

const MARK = '.sig.';

/** The id the client sees: the call's own id, with Gemini's signature when there is one. */
export function toolCallId(id: string, signature: string | undefined): string {
  return signature === undefined || signature === '' ? id : `${id}${MARK}${Buffer.from(signature, 'base64').toString('base64url')}`;
}

/** A client's id taken apart: the call's own id, and Gemini's signature (base64) when it carries one. */
export function splitToolCallId(id: string): { id: string; signature?: string } {
  const at = id.indexOf(MARK);
  if (at < 0) return { id };
  const signature = Buffer.from(id.slice(at + MARK.length), 'base64url').toString('base64');
  return signature === '' ? { id: id.slice(0, at) } : { id: id.slice(0, at), signature };
}
