import { startTracing } from './tracing';

/** Imported first by each entry point, so that the libraries loaded after it are instrumented. */
export const tracing = startTracing();
