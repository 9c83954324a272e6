import { RELEASES_PAGE } from '../common/project.ts';

export interface UpdateNotice {
  version: string;
  /** The release's page (always under RELEASES_PAGE: the feed cannot send the user elsewhere). */
  url: string;
}

/** [major, minor, patch] of "v1.2.3" / "1.2.3"; null for anything else (pre-releases included: never offered). */
function parseVersion(v: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

export function isNewerVersion(candidate: string, current: string): boolean {
  const a = parseVersion(candidate);
  const b = parseVersion(current.replace(/-.*$/, ''));
  if (!a || !b) return false;
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

/**
 * Asks the releases feed (GitHub's latest-release JSON) whether a newer version exists. Answers the notice, or
 * null when this is the latest; throws on a feed that cannot be read (the caller logs it and moves on). A plain
 * notice: nothing is downloaded or installed. `fetch` is Electron's net.fetch in the app (system proxy settings).
 */
export async function checkForUpdate(opts: {
  feedUrl: string;
  current: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}): Promise<UpdateNotice | null> {
  const res = await (opts.fetch ?? fetch)(opts.feedUrl, {
    headers: { accept: 'application/vnd.github+json', 'user-agent': `Kiln/${opts.current}` },
    signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
  });
  if (!res.ok) throw new Error(`the releases feed ${opts.feedUrl} answered HTTP ${res.status}`);
  const latest = (await res.json()) as { tag_name?: unknown; html_url?: unknown; draft?: unknown; prerelease?: unknown };
  if (typeof latest.tag_name !== 'string') throw new Error(`the releases feed ${opts.feedUrl} sent no tag_name`);
  if (latest.draft === true || latest.prerelease === true || !isNewerVersion(latest.tag_name, opts.current)) return null;
  const version = latest.tag_name.replace(/^v/, '');
  const page = typeof latest.html_url === 'string' && latest.html_url.startsWith(`${RELEASES_PAGE}/`) ? latest.html_url : RELEASES_PAGE;
  return { version, url: page };
}

/**
 * The app's check: once, `delayMs` after start-up (never in its way), in the background; the notice is logged and
 * emitted, and `latest()` keeps it for windows opened later. Failures (offline, rate limits) are logged, nothing else.
 */
export function scheduleUpdateCheck(opts: {
  feedUrl: string;
  current: string;
  fetch?: typeof fetch;
  delayMs: number;
  log: { info(message: string): void };
  onNotice: (notice: UpdateNotice) => void;
}): { latest(): UpdateNotice | undefined } {
  let latest: UpdateNotice | undefined;
  const timer = setTimeout(() => {
    checkForUpdate(opts)
      .then((notice) => {
        if (!notice) return;
        latest = notice;
        opts.log.info(`Kiln ${notice.version} is available (this is ${opts.current}): ${notice.url}`);
        opts.onNotice(notice);
      })
      .catch((err: unknown) => opts.log.info(`update check: ${err instanceof Error ? err.message : String(err)}`));
  }, opts.delayMs);
  timer.unref();
  return { latest: () => latest };
}
