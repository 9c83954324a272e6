import type { Point } from './decimate.ts';

/** The one typed chart description every plot in the app uses; `chart.svelte` turns it into chart.js. */
export interface ChartSeries {
  label: string;
  points: readonly Point[];
  color: string;
  dashed?: boolean;
  /** Plot against the right-hand axis. */
  right?: boolean;
  /** Draw a dot at every point (short series such as per-epoch values). */
  dots?: boolean;
  /** Drawn pale and left out of the legend: the raw values behind a smoothed series. */
  faded?: boolean;
}

export interface ChartAxis {
  label: string;
  log?: boolean;
  min?: number;
  max?: number;
  /** Values are fractions shown as percentages. */
  percent?: boolean;
  /** Only whole-number ticks (steps, epochs). */
  integer?: boolean;
}

export interface LineChartConfig {
  kind: 'line';
  title: string;
  x: ChartAxis;
  y: ChartAxis;
  y2?: ChartAxis;
  series: ChartSeries[];
  /** Vertical marker lines, e.g. the LR finder's suggestion. */
  markers?: { x: number; label: string; color: string }[];
}

export interface BarChartConfig {
  kind: 'bar';
  title: string;
  categories: string[];
  y: ChartAxis;
  series: { label: string; values: number[]; color: string }[];
  horizontal?: boolean;
}

export type ChartConfig = LineChartConfig | BarChartConfig;

/** Colour-blind-safe palette (Okabe–Ito), in the order series are assigned. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#B8A200', '#6F6F6F'];
