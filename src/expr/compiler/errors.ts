/**
 * Gives a compiled expression's error jsonata's own message text. jsonata fills in `message`
 * from its table of codes when an error leaves its evaluator; the table is private, so the error
 * is passed out through a one-call jsonata expression, which fills it in exactly as it would
 * have. This runs only on the failure path.
 */
import jsonata from 'jsonata';

const RAISE = '__mqflow_raise';
// Called through a block, so jsonata knows no name for it: an error without a token stays so.
const raiser = jsonata(`($${RAISE})()`);

export async function withJsonataMessage(error: unknown): Promise<unknown> {
  if (typeof error !== 'object' || error === null || error instanceof Error) return error;
  const err = error as { code?: unknown; token?: unknown; position?: unknown; message?: unknown };
  if (typeof err.code !== 'string') return error;
  const had = { token: 'token' in err, position: 'position' in err };
  const before = { token: err.token, position: err.position };
  try {
    await raiser.evaluate(undefined, {
      [RAISE]: () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the same object goes back out
        throw error;
      },
    });
  } catch (thrown) {
    // jsonata rethrows the same object, now with its message; or, when the message cannot be
    // written (a value that does not serialise), the TypeError that jsonata itself would throw.
    if (thrown !== error) return thrown;
  }
  // The call above names itself as the token and position of errors that had none: undo that.
  if (had.token) err.token = before.token;
  else delete err.token;
  if (had.position) err.position = before.position;
  else delete err.position;
  return error;
}
