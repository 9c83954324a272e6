/**
 * Where a file of the packaged app really is. electron-builder puts the app in resources/app.asar and the files
 * it was told to unpack (asarUnpack) beside it, under resources/app.asar.unpacked, at the same relative paths.
 * Electron's own fs and require read through the archive, but worker threads, emscripten's loaders and native
 * libraries open real files, so a path computed from `import.meta.url` or `require.resolve` must be mapped.
 * Outside an archive (the CLI, tests, `npm start`) the path comes back as it was.
 */
export function unpackedPath(file: string): string {
  // Only a whole path segment named app.asar, and only the first: app.asar.unpacked or my-app.asar stay as they are.
  return file.replace(/(^|[\\/])app\.asar(?=[\\/]|$)/, '$1app.asar.unpacked');
}
