/**
 * A reload of the app page arrives without `?token=` (the page takes it out of the address bar, so it is not left
 * in history or copied with the URL). The answer is still 401, but as a small page whose script puts the token
 * back from this tab's sessionStorage, which only pages of this exact origin (port included) can read, and no
 * request ever carries (unlike a cookie, which every service on the host would receive). A token that no longer
 * works (the server restarted) is dropped, and the page says what to do.
 */
import { SESSION_TOKEN_KEY } from '../../src-shared/session.ts';

export const SESSION_RESTORE_PATH = '/kiln-session-restore.js';

export const SESSION_RESTORE_SCRIPT = `(() => {
  const here = new URL(location.href);
  const token = sessionStorage.getItem(${JSON.stringify(SESSION_TOKEN_KEY)});
  if (token && !here.searchParams.has('token')) {
    here.searchParams.set('token', token);
    location.replace(here.href);
  } else sessionStorage.removeItem(${JSON.stringify(SESSION_TOKEN_KEY)});
})();
`;

export function sessionRestorePage(message: string): string {
  const text = message.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Kiln</title><script src="${SESSION_RESTORE_PATH}"></script></head><body><p>${text}</p></body></html>\n`;
}
