/**
 * Progress events of the long dataset jobs. Plain JSON on purpose: the desktop
 * app forwards them over IPC and the CLI draws them as a bar.
 */
export type DownloadProgressEvent =
  | {
      phase: 'download';
      bytes: number;
      /** Null when the server does not say how big the file is. */
      totalBytes: number | null;
      bytesPerSecond: number;
      etaSeconds: number | null;
      /** Bytes already on disk from an earlier, interrupted attempt. */
      resumedFrom: number;
    }
  | { phase: 'retry'; attempt: number; resumeFrom: number; reason: string }
  | { phase: 'verify'; algorithm: 'sha256' | 'md5' | null }
  | { phase: 'unpack'; bytes: number; totalBytes: number }
  | { phase: 'write'; images: number }
  | { phase: 'done'; id: string; seconds: number };

export type ImportProgressEvent =
  | {
      phase: 'scan';
      files: number;
      /** The stored side the import will use, and whether it was chosen from the images' resolution. */
      imageSize?: number;
      sizeChosen?: 'auto' | 'given' | 'backbone';
      /** Bytes the images will take at that size, on disk and in memory while a run trains (skipped files aside). */
      bytes?: number;
      /** Median short side of a sample of the files, in pixels (auto size only). */
      medianShortSide?: number | null;
      /** What the images are, in words: "photos: median short side 270 px". */
      sizeReason?: string;
    }
  /** `decoding`: a large image (relative path) about to be decoded; a crash after it names it. */
  | { phase: 'decode'; done: number; total: number; skipped: number; imagesPerSecond: number; etaSeconds: number | null; decoding?: string }
  | { phase: 'write'; images: number }
  | { phase: 'done'; id: string; seconds: number; imagesPerSecond: number };
