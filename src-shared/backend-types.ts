/** What a run records about the device it trained on: plain data, shared with the UI. */

/** The WebGPU adapter a run used, as its record keeps it. */
export interface WebgpuAdapter {
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU implementation (Mesa llvmpipe/lavapipe, SwiftShader, any fallback adapter): correct, but slow. */
  software: boolean;
}
