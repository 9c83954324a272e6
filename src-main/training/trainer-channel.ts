import { fileURLToPath } from 'node:url';
import { defineChannel } from '../common/child-channel.ts';
import type { ParentMessage, TrainerMessage } from '../../src-shared/trainer-protocol.ts';

/** A trainer process (trainer-entry.ts): the host asks it to pause or stop; it reports until 'done' or 'error'. */
export const TRAINER_CHANNEL = defineChannel<ParentMessage, TrainerMessage>({
  name: 'trainer',
  entry: 'trainer-entry',
  source: fileURLToPath(new URL('./trainer-entry.ts', import.meta.url)),
  final: ['done', 'error'],
});
export type TrainerChannel = typeof TRAINER_CHANNEL;
