import { forkedExitDetail, forkTs } from './fork-ts.ts';
import type { Transport } from './child-channel.ts';

/**
 * The channel over child_process.fork of the entry (TypeScript through tsx): the CLI, `kiln serve` and tests. The
 * IPC channel has a delivery callback, so the child exits on its own after its final message. An abnormal exit
 * comes with the child's last stderr lines.
 */
export const FORK: Transport = (channel, args) => {
  const child = forkTs(channel.source, args);
  return {
    pid: child.pid,
    send: (m) => void (child.connected && child.send(m)),
    onMessage: (l) => void child.on('message', (m) => l(m as never)),
    onExit: (l) =>
      void child.on('exit', (code, signal) => {
        if (code === 0) l({ code, signal });
        else void forkedExitDetail(child).then((detail) => l({ code, signal, detail }));
      }),
    kill: () => void child.kill('SIGKILL'),
  };
};
