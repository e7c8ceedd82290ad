import type { PGliteOptions } from '@electric-sql/pglite';
export declare function pgliteOptions(): PGliteOptions;
