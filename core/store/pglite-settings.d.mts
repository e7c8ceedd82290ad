import type { PGliteOptions } from '@electric-sql/pglite';
export declare const SHARED_BUFFERS_MB: number;
export declare function pgliteOptions(): PGliteOptions;
