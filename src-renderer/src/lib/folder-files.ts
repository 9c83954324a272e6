/** A file of a folder the person dropped or chose, with its path inside that folder (`shapes/reds/001.png`). */
export interface FolderFile {
  path: string;
  file: File;
}

/** Files of an `<input type=file webkitdirectory>`: each carries its path below the chosen folder's parent. */
export function filesFromInput(list: FileList | null): FolderFile[] {
  return [...(list ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/** Hidden files (.DS_Store, ._x) and system folders are not images; sending them would only waste the upload. */
export function worthSending(f: FolderFile): boolean {
  return !f.path.split('/').some((p) => p.startsWith('.') || p === '__MACOSX' || p === 'Thumbs.db' || p === 'desktop.ini');
}

/**
 * Every file below the dropped folders (and dropped files), walking the entries the browser gives a
 * drop. The entries must be taken before the drop handler returns; reading them may continue after.
 */
export async function filesFromDrop(items: DataTransferItemList): Promise<FolderFile[]> {
  const entries = [...items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => Boolean(e));
  const out: FolderFile[] = [];
  async function walk(entry: FileSystemEntry, prefix: string): Promise<void> {
    const here = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ path: here, file });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries answers in batches (100 in Chromium) until an empty one.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walk(child, here);
    }
  }
  for (const e of entries) await walk(e, '');
  return out;
}

/** Base64 of bytes, in slices (String.fromCharCode with a huge spread overflows the stack). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
