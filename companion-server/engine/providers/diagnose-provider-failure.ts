// Turns what onnxruntime (and the GPU libraries under it) printed when a provider failed into one
// sentence a user can act on. The raw text stays available for MGIE_DEBUG, never as the message.

export interface ProviderFailure {
  /** The error onnxruntime-node threw. */
  message: string;
  /** What the native libraries wrote to stderr meanwhile (ORT's log, Dawn's warnings, dlopen errors). */
  stderr?: string;
}

type Diagnosis = (text: string) => string | undefined;

const missingLibrary = (text: string): string | undefined => text.match(/(lib[\w.+-]+\.so(?:\.\d+)*): cannot open shared object file/)?.[1];

const CUDA_DIAGNOSES: Diagnosis[] = [
  (text) => {
    const library = missingLibrary(text);
    if (library === undefined) return undefined;
    if (/providers_(cuda|shared)/.test(library)) return 'CUDA libraries are not installed: run npm run setup:cuda';
    if (/cudnn/.test(library)) return `cuDNN 9 is not installed (${library} not found): install cuDNN 9 for CUDA 12, or add its lib folder to LD_LIBRARY_PATH`;
    if (/libcuda\.so/.test(library)) return `no NVIDIA driver found (${library} not found): install the NVIDIA driver`;
    return `the CUDA 12 runtime libraries are not installed (${library} not found): install CUDA 12 (or its runtime libraries) and add its lib folder to LD_LIBRARY_PATH`;
  },
  (text) => (/no CUDA-capable device|CUDA_ERROR_NO_DEVICE|cudaErrorNoDevice/i.test(text) ? 'no NVIDIA GPU found: CUDA sees no device' : undefined),
  (text) =>
    /driver version is insufficient|CUDA_ERROR_SYSTEM_DRIVER_MISMATCH|cudaErrorInsufficientDriver/i.test(text)
      ? 'the NVIDIA driver is too old for CUDA 12: update the driver'
      : undefined,
  (text) => (/out of memory/i.test(text) ? 'the GPU is out of memory: close other programs using it, or use a smaller bundle' : undefined),
];

const WEBGPU_DIAGNOSES: Diagnosis[] = [
  (text) =>
    /libvulkan\.so\.1/.test(text) && /adapter/i.test(text)
      ? 'no WebGPU adapter found: the Vulkan loader (libvulkan.so.1) is not installed; on Debian/Ubuntu: apt-get install libvulkan1'
      : undefined,
  (text) => (/adapter/i.test(text) ? 'no WebGPU adapter found (no GPU, or no Vulkan/Metal driver)' : undefined),
];

const COREML_DIAGNOSES: Diagnosis[] = [
  (text) => (/backend not found/i.test(text) ? 'this onnxruntime-node build has no CoreML provider' : undefined),
];

const BY_PROVIDER: Record<string, Diagnosis[]> = { cuda: CUDA_DIAGNOSES, webgpu: WEBGPU_DIAGNOSES, coreml: COREML_DIAGNOSES };

/** One line: the real cause and the next action. Falls back to onnxruntime's own first line. */
export function diagnoseProviderFailure(provider: string, failure: ProviderFailure): string {
  const text = `${failure.message}\n${failure.stderr ?? ''}`;
  for (const diagnose of BY_PROVIDER[provider] ?? []) {
    const sentence = diagnose(text);
    if (sentence !== undefined) return sentence;
  }
  const first = failure.message.split('\n')[0].replace(/^.*\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/, '').trim();
  return `onnxruntime could not start the ${provider} provider (${first}); run mgie doctor for details`;
}
