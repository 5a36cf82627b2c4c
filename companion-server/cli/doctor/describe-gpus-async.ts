// The GPUs this machine has, as the operating system sees them (independent of onnxruntime), so
// doctor can tell "no GPU" from "a GPU that no provider can use".
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export interface GpuDescription {
  name: string;
  /** Where the name came from: nvidia-smi, the PCI bus, system_profiler, Windows. */
  source: string;
}

// PCI vendor ids of display controllers (class 0x03xxxx) that a user would recognise.
const PCI_VENDORS: Record<string, string> = { '0x10de': 'NVIDIA', '0x1002': 'AMD', '0x8086': 'Intel', '0x1af4': 'virtio', '0x1234': 'QEMU', '0x15ad': 'VMware', '0x1414': 'Microsoft Hyper-V' };

function runAsync(command: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000, maxBuffer: 4 << 20, windowsHide: true }, (error, stdout) => resolve(error ? undefined : stdout));
  });
}

export async function describeGpusAsync(): Promise<GpuDescription[]> {
  if (process.platform === 'darwin') {
    const json = await runAsync('system_profiler', ['SPDisplaysDataType', '-json']);
    const displays = json ? ((JSON.parse(json).SPDisplaysDataType ?? []) as Array<{ sppci_model?: string; _name?: string }>) : [];
    return displays.map((d) => ({ name: d.sppci_model ?? d._name ?? 'GPU', source: 'system_profiler' }));
  }
  if (process.platform === 'win32') {
    const names = await runAsync('powershell', ['-NoProfile', '-Command', '(Get-CimInstance Win32_VideoController).Name']);
    return (names ?? '').split(/\r?\n/).map((n) => n.trim()).filter(Boolean).map((name) => ({ name, source: 'Windows' }));
  }
  const nvidia = await runAsync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader']);
  const nvidiaGpus = (nvidia ?? '').split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
    const [name, memory, driver] = line.split(',').map((part) => part.trim());
    return { name: `${name} (${memory}, driver ${driver})`, source: 'nvidia-smi' };
  });
  const pciGpus = (await pciDisplayControllersAsync()).filter((gpu) => !(nvidiaGpus.length > 0 && gpu.name.startsWith('NVIDIA')));
  return [...nvidiaGpus, ...pciGpus];
}

async function pciDisplayControllersAsync(): Promise<GpuDescription[]> {
  const root = '/sys/bus/pci/devices';
  const devices = await readdir(root).catch(() => [] as string[]);
  const gpus: GpuDescription[] = [];
  for (const device of devices) {
    const read = (file: string) => readFile(`${root}/${device}/${file}`, 'utf8').then((text) => text.trim()).catch(() => '');
    if (!(await read('class')).startsWith('0x03')) continue;
    const vendor = await read('vendor');
    gpus.push({ name: `${PCI_VENDORS[vendor] ?? `vendor ${vendor}`} display controller ${await read('device')} at PCI ${device}`, source: 'PCI' });
  }
  return gpus;
}
