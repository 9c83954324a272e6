/** Per-channel mean and std of packed RGB HWC bytes, on the 0..1 scale (population std, as normalisation uses). */
export function channelStats(images: Uint8Array): { mean: [number, number, number]; std: [number, number, number] } {
  const n = Math.floor(images.length / 3);
  if (n === 0) return { mean: [0, 0, 0], std: [0, 0, 0] };
  // Integer sums stay exact in float64 up to 2^53, far beyond any dataset that fits in memory.
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    q0 = 0,
    q1 = 0,
    q2 = 0;
  for (let i = 0; i < n * 3; i += 3) {
    const r = images[i],
      g = images[i + 1],
      b = images[i + 2];
    s0 += r;
    s1 += g;
    s2 += b;
    q0 += r * r;
    q1 += g * g;
    q2 += b * b;
  }
  const mean = (s: number) => s / n / 255;
  const std = (s: number, q: number) => Math.sqrt(Math.max(0, q / n - (s / n) ** 2)) / 255;
  return { mean: [mean(s0), mean(s1), mean(s2)], std: [std(s0, q0), std(s1, q1), std(s2, q2)] };
}
