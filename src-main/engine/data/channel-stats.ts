/** Per-channel mean and standard deviation of packed RGB bytes, on the 0..1 scale. */
export function channelStats(images: Uint8Array): { mean: [number, number, number]; std: [number, number, number] } {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  for (let i = 0; i < images.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = images[i + c]!;
      sum[c]! += v;
      sq[c]! += v * v;
    }
  }
  const n = images.length / 3;
  const mean = sum.map((s) => s / n / 255) as [number, number, number];
  const std = sq.map((s, c) => Math.sqrt(Math.max(s / n / 65025 - mean[c]! ** 2, 1e-12))) as [number, number, number];
  return { mean, std };
}
