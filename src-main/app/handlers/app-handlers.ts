import { KILN_VERSION } from '../../common/version.ts';
import { probeBackends } from '../../engine/backend/registry.ts';
import type { HandlerContext, HandlersOf } from './handler-context.ts';

export function appHandlers({ home, opts }: HandlerContext): HandlersOf<'app'> {
  return {
    'app.info': async () => ({ version: KILN_VERSION, home, electron: !!opts.electron, backends: probeBackends() }),
  };
}
