/**
 * Where the project lives: the deb's homepage and the update check's feed. package.json's homepage and
 * repository say the same (checked by update-check.test.ts); electron-builder reads those.
 */
export const PROJECT_REPOSITORY = 'kiln-workbench/kiln';
export const RELEASES_PAGE = `https://github.com/${PROJECT_REPOSITORY}/releases`;
/** GitHub's "latest release" (drafts and pre-releases excluded): { tag_name, html_url, … }. */
export const RELEASES_FEED = `https://api.github.com/repos/${PROJECT_REPOSITORY}/releases/latest`;
