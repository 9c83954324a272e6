import type { HandlerContext, HandlersOf } from './handler-context.ts';

export function settingsHandlers({ settings }: HandlerContext): HandlersOf<'settings'> {
  return {
    'settings.get': async () => settings.get(),
    'settings.set': async (patch) => settings.set(patch),
  };
}
