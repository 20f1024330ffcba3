/**
 * The response, with `done` called once when its body has been sent in full or the client went away
 * (the request's signal, which @modelcontextprotocol/node aborts when the connection closes early).
 * For the HTTP front end's bookkeeping: requests in flight, open listen and GET streams.
 */
export function untilDone(request: Request, response: Response, done: () => void): Response {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    done();
  };
  request.signal.addEventListener('abort', once, { once: true });
  if (!response.body) return (once(), response);
  return new Response(response.body.pipeThrough(new TransformStream({ flush: once })), response);
}
