// The paced shoppers' thread (paced-shoppers.ts): Node 20 does not pass `--import tsx` on to a
// worker's module loader, so the thread starts here, in plain JavaScript, and loads the TypeScript
// through tsx's API; paced-shoppers.ts runs its loop when loaded on a thread with its input.
import { tsImport } from 'tsx/esm/api';

await tsImport('./paced-shoppers.ts', import.meta.url);
