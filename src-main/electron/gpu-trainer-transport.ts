import type { BrowserWindow as BrowserWindowType, MessageChannelMain as MessageChannelMainType, WebPreferences } from 'electron';
import type { ChannelSpec, ChildEnd, ChildExit, Transport } from '../common/child-channel.ts';
import { utilityChild, type UtilityFork } from './utility-transport.ts';
import type { ProcessGoneLog } from './process-gone.ts';
import type { ParentMessage } from '../../src-shared/trainer-protocol.ts';

/** How long a trainer whose page died may take to record the failure and exit before it is ended. */
const PAGE_GONE_GRACE_MS = 10_000;
/** How long the trainer page may stay unresponsive (Chromium's hang monitor) before it is closed. */
const PAGE_HUNG_MS = 30_000;

export interface GpuTrainerDeps {
  fork: UtilityFork;
  /** out/main, where the built entries are. */
  dir: string;
  BrowserWindow: typeof BrowserWindowType;
  MessageChannelMain: typeof MessageChannelMainType;
  /** The built page (out/renderer/gpu-trainer.html) and its preload (out/preload/gpu-trainer.cjs). */
  pageUrl: string;
  preload: string;
  gone?: ProcessGoneLog;
  log?: { warn(message: string): void };
}

/**
 * The trainer window's settings: no Node, sandboxed, isolated, never shown, and not throttled while hidden (a
 * background window's timers and rAF slow to a crawl, and the page yields to its event loop between steps).
 */
export const GPU_TRAINER_WEB_PREFERENCES = (preload: string): WebPreferences => ({
  preload,
  sandbox: true,
  contextIsolation: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  webSecurity: true,
  backgroundThrottling: false,
  spellcheck: false,
});

/**
 * A GPU run in the app: a trainer utility process that owns the run's files (dataset, checkpoints, record,
 * metrics) as for any run, started with 'gpu-page', plus a hidden sandboxed window whose page (training/gpu) runs
 * the steps on Chromium's own WebGPU (Dawn behind the GPU process: a driver crash takes the GPU process, not the
 * app). The two talk over a MessageChannelMain; the host talks to the trainer through the trainer channel as for
 * any run. No Node module touches WebGPU in any Electron process (Electron's memory cage forbids Dawn for Node's
 * external buffers). A crashed page closes its port: the trainer marks the run failed ("the GPU trainer page went
 * away") and exits; a hung one is ended after a grace. The trainer's end closes the window.
 */
export function gpuTrainerTransport(deps: GpuTrainerDeps): Transport {
  return <C extends ChannelSpec>(channel: C, args: string[]): ChildEnd<C> => {
    const owner = utilityChild(deps.fork, deps.dir, channel, [...args, 'gpu-page'], deps.gone);
    const win = new deps.BrowserWindow({
      show: false,
      width: 320,
      height: 240,
      title: 'Kiln GPU trainer',
      webPreferences: GPU_TRAINER_WEB_PREFERENCES(deps.preload),
    });
    const { port1, port2 } = new deps.MessageChannelMain();
    owner.process.postMessage({ type: 'gpu-port' }, [port1]);
    const contents = win.webContents;
    contents.once('did-finish-load', () => contents.postMessage('kiln-gpu-port', null, [port2]));
    // A dead renderer closes its port: the trainer sees the page go, fails the run and exits. Chromium's reason goes
    // to the trainer (for the run's error) and to the log; a trainer that does not end by itself within the grace is
    // ended with that reason.
    let exited = false;
    const pageGone = (reason: string) => {
      // The window is closed once the trainer has exited: nothing to tell then.
      if (exited) return;
      deps.log?.warn(`run ${args[1]}: the GPU trainer page went away: ${reason}`);
      owner.process.postMessage({ type: 'page-gone', reason } satisfies ParentMessage);
      setTimeout(() => exited || owner.endFor(reason), PAGE_GONE_GRACE_MS).unref();
    };
    contents.on('render-process-gone', (_e, details) => {
      if (details.reason !== 'clean-exit') pageGone(`its renderer is gone: reason ${details.reason}, exit code ${details.exitCode}`);
    });
    // Chromium's hang monitor: a page still hung after a grace is closed, which fails the run as a crash does.
    let hung: ReturnType<typeof setTimeout> | undefined;
    contents.on('unresponsive', () => {
      hung ??= setTimeout(() => {
        pageGone(`it stopped responding for over ${PAGE_HUNG_MS / 1000} s`);
        close();
      }, PAGE_HUNG_MS).unref();
    });
    contents.on('responsive', () => {
      clearTimeout(hung);
      hung = undefined;
    });
    const close = () => {
      if (!win.isDestroyed()) win.destroy();
    };
    owner.onExit(() => {
      exited = true;
      close();
    });
    void win
      .loadURL(deps.pageUrl)
      .catch((err: unknown) => owner.endFor(`GPU trainer page did not load: ${err instanceof Error ? err.message : String(err)}`));
    return owner;
  };
}

/**
 * A ChildEnd whose transport is picked asynchronously (from the run's record): sends and listeners wait for it.
 */
export function deferredChild<C extends ChannelSpec>(pick: Promise<ChildEnd<C>>): ChildEnd<C> {
  let child: ChildEnd<C> | undefined;
  let killed = false;
  const waiting: ((c: ChildEnd<C>) => void)[] = [];
  const exitListeners: ((e: ChildExit) => void)[] = [];
  pick.then(
    (c) => {
      child = c;
      for (const w of waiting.splice(0)) w(c);
      if (killed) c.kill();
    },
    (err: unknown) => {
      const exit: ChildExit = {
        code: null,
        signal: null,
        detail: { reason: `the trainer could not start: ${err instanceof Error ? err.message : String(err)}` },
      };
      for (const l of exitListeners) l(exit);
    },
  );
  const use = (f: (c: ChildEnd<C>) => void) => (child ? f(child) : void waiting.push(f));
  return {
    get pid() {
      return child?.pid;
    },
    send: (m) => use((c) => c.send(m)),
    onMessage: (l) => use((c) => c.onMessage(l)),
    onExit: (l) => {
      exitListeners.push(l);
      use((c) => c.onExit(l));
    },
    kill: () => {
      killed = true;
      use((c) => c.kill());
    },
  };
}

/**
 * Trainers by the run's backend: `webgpu` and `auto` go to the GPU trainer (whose trainer falls back to a local
 * backend under `auto` when Chromium offers only a software adapter or the self-check fails); the rest to a plain
 * utility process. `backendOf` reads the run's stored config.
 */
export function trainerRouter(cpu: Transport, gpu: Transport, backendOf: (home: string, runId: string) => Promise<string>): Transport {
  return <C extends ChannelSpec>(channel: C, args: string[]): ChildEnd<C> =>
    deferredChild(
      backendOf(args[0]!, args[1]!).then(
        (backend) => (backend === 'webgpu' || backend === 'auto' ? gpu : cpu)(channel, args),
        () => cpu(channel, args),
      ),
    );
}
