// The engine thread's entry. Plain JavaScript: module hooks are per thread, so the tsx loader that
// mgie.js registers in the main thread must be registered here again before the TypeScript loads.
import { register } from 'tsx/esm/api';

register();
await import('./engine-thread-worker.ts');
