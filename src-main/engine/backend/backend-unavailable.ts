/** A backend that cannot be used here; the message is one line saying why and what to install. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}
