// Types for restart-with-malloc-tunables.js (plain JavaScript: it runs before tsx is registered).
export declare const MALLOC_TUNABLES: readonly string[];
export declare function restartWithMallocTunables(): void;
