// glibc's malloc hands every freed block above its mmap threshold (128 KB at first) back to the kernel,
// so the next allocation of that size is fresh pages that fault in one by one. onnxruntime-node copies
// every output into a new buffer: the decoder's KV cache (hundreds of MB for a 7B) is allocated, filled
// and freed again at every token, and each token's cache is a little larger than the last, which keeps
// glibc's adaptive threshold behind. Measured on a 2-core VM whose page faults cost ~30 us per 4 KB page:
// a decode-like loop of 53 MB of outputs per step took 709 ms per step by default, 58 ms with buffers up
// to 32 MB (glibc's maximum) kept in the heap and the heap never trimmed. The price: memory freed after
// an edit stays with the process for the next one, which the peak figure already counts.
//
// Tunables are read when a process starts, so the CLI replaces itself (same pid, same arguments) with a
// copy started with them. Plain JavaScript: it runs before tsx is registered.
export const MALLOC_TUNABLES = ['glibc.malloc.mmap_threshold=33554432', 'glibc.malloc.trim_threshold=17179869184'];

/** Re-executes this process with MALLOC_TUNABLES added to GLIBC_TUNABLES; returns when not needed or not possible. */
export function restartWithMallocTunables() {
  const current = process.env.GLIBC_TUNABLES ?? '';
  // Not glibc's platform, already done, set by the user, or a Node without process.execve (22.15+).
  if (process.platform !== 'linux' || current.includes('glibc.malloc.mmap_threshold') || typeof process.execve !== 'function') return;
  if (process.env.MGIE_MALLOC_TUNABLES === '0') return;
  const tunables = [current, ...MALLOC_TUNABLES].filter(Boolean).join(':');
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, GLIBC_TUNABLES: tunables });
}
