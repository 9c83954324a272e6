import { backboneStatus, backboneStatuses, fetchBackbone, installBackbone, LICENCE_NOTE } from '../../training/backbone-source.ts';
import { checkRemoteImportFolder } from '../safe-paths.ts';
import type { HandlerContext, HandlersOf } from './handler-context.ts';

/** The `backbones.*` namespace: the weights store under the Kiln home, as `kiln backbone list/get/add` use it. */
export function backboneHandlers({ home, opts, log }: HandlerContext): HandlersOf<'backbones'> {
  const o = { home, emit: opts.emit, log };
  /** Downloads in progress, by backbone: a second caller (another window, a double click) joins the first; cancellable. */
  const downloads = new Map<string, { controller: AbortController; done: Promise<void> }>();
  return {
    'backbones.list': async () => ({ backbones: await backboneStatuses(o.home), licenceNote: LICENCE_NOTE }),
    'backbones.download': async (name) => {
      let running = downloads.get(name);
      if (!running) {
        const controller = new AbortController();
        o.log.info(`backbone ${name}: download started`);
        const done = fetchBackbone(o.home, name, (event) => o.emit('backboneProgress', { name, event }), controller.signal, opts.proxyFor)
          .then(() => o.log.info(`backbone ${name}: downloaded`))
          .finally(() => downloads.delete(name));
        running = { controller, done };
        downloads.set(name, running);
      }
      await running.done;
      return backboneStatus(o.home, name);
    },
    'backbones.cancelDownload': async (name) => {
      downloads.get(name)?.controller.abort(new Error(`download of ${name} cancelled`));
    },
    'backbones.add': async (name, file, options) => {
      // A remote client may name files only under the data roots the server was started with.
      if (opts.remote) checkRemoteImportFolder(file, opts.remote);
      await installBackbone(o.home, name, file, { unverified: options?.unverified ?? false });
      o.log.info(`backbone ${name}: added from ${file}${options?.unverified ? ' (unverified)' : ''}`);
      return backboneStatus(o.home, name);
    },
  };
}
