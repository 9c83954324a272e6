/**
 * The app page's Content-Security-Policy, one string for both hosts: Electron's window and `kiln serve`.
 * They differ only in where the page may connect (Electron: nowhere but itself; the server: its WebSocket).
 * src-renderer/index.html carries a meta copy for pages opened without either host's header.
 */
export function contentSecurityPolicy(connectSrc: string): string {
  return (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; " +
    `connect-src ${connectSrc}; base-uri 'none'; form-action 'none'; object-src 'none'; frame-ancestors 'none'`
  );
}
