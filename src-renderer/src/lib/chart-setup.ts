import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Title,
  Tooltip,
  type ChartConfiguration,
  type Plugin,
} from 'chart.js';
import type { ChartAxis, ChartConfig } from './chart-config.ts';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Legend,
  Title,
  Tooltip,
);

export { Chart };

export interface ChartTheme {
  text: string;
  grid: string;
}

function axis(a: ChartAxis, theme: ChartTheme, position?: 'left' | 'right') {
  return {
    type: a.log ? ('logarithmic' as const) : ('linear' as const),
    position,
    min: a.min,
    max: a.max,
    title: { display: true, text: a.label, color: theme.text },
    ticks: {
      color: theme.text,
      maxTicksLimit: 8,
      // A zoomed range ends anywhere (4.88 … 11.28): label round values only.
      includeBounds: false,
      ...(a.integer ? { precision: 0 } : {}),
      // Always format: chart.js's default leaves float noise (0.30000000000000004) on some ranges.
      callback: (v: number | string, _i: number, ticks: { value: number }[]) => tickLabel(Number(v), a, ticks),
    },
    grid: { color: theme.grid, drawOnChartArea: position !== 'right' },
  };
}

function tickLabel(v: number, a: ChartAxis, ticks: { value: number }[] = []): string | null {
  if (a.percent) return `${Number((v * 100).toPrecision(3))}%`;
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (a.log) {
    // Label only 1, 2 and 5 per decade: chart.js puts a tick at every minor step, whose labels collide.
    const lead = Number((abs / 10 ** Math.floor(Math.log10(abs) + 1e-9)).toPrecision(2));
    // Within one decade (a loss from 0.6 to 1) there may be no 1, 2 or 5: label every tick then.
    const span = ticks.length > 1 ? ticks.at(-1)!.value / ticks[0]!.value : Infinity;
    if (span >= 10 && lead !== 1 && lead !== 2 && lead !== 5) return null;
    return abs < 1e-3 || abs >= 1e5 ? v.toExponential(0) : String(Number(v.toPrecision(2)));
  }
  if (abs < 1e-3 || abs >= 1e5) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

/** Vertical lines at given x values, drawn after the datasets. */
const markerPlugin: Plugin<'line'> = {
  id: 'kilnMarkers',
  afterDatasetsDraw(chart) {
    const markers = (chart.options.plugins as { kilnMarkers?: { x: number; label: string; color: string }[] }).kilnMarkers ?? [];
    const { ctx, chartArea, scales } = chart;
    for (const [i, m] of markers.entries()) {
      const px = scales.x!.getPixelForValue(m.x);
      if (!Number.isFinite(px) || px < chartArea.left || px > chartArea.right) continue;
      ctx.save();
      ctx.strokeStyle = m.color;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.moveTo(px, chartArea.top);
      ctx.lineTo(px, chartArea.bottom);
      ctx.stroke();
      ctx.fillStyle = m.color;
      ctx.font = '12px system-ui, sans-serif';
      // One line per marker: two suggestions close together would print over each other.
      ctx.fillText(m.label, Math.min(px + 4, chartArea.right - ctx.measureText(m.label).width), chartArea.top + 12 + i * 15);
      ctx.restore();
    }
  },
};

/** The linked hover: a vertical line at the x another chart (or this one) is hovered at. */
const crosshairPlugin: Plugin<'line'> = {
  id: 'kilnCrosshair',
  afterDatasetsDraw(chart) {
    const x = (chart.options.plugins as { kilnCrosshair?: { x: number | null } }).kilnCrosshair?.x;
    if (x === null || x === undefined) return;
    const { ctx, chartArea, scales } = chart;
    const px = scales.x!.getPixelForValue(x);
    if (!Number.isFinite(px) || px < chartArea.left || px > chartArea.right) return;
    ctx.save();
    ctx.strokeStyle = (chart.options.plugins as { kilnTheme?: ChartTheme }).kilnTheme?.text ?? '#888';
    ctx.globalAlpha = 0.6;
    ctx.beginPath();
    ctx.moveTo(px, chartArea.top);
    ctx.lineTo(px, chartArea.bottom);
    ctx.stroke();
    ctx.restore();
  },
};

/** Data only: what a throttled update swaps into an existing chart. */
export function chartData(config: ChartConfig): ChartConfiguration['data'] {
  if (config.kind === 'bar') {
    return {
      labels: config.categories,
      datasets: config.series.map((s) => ({ label: s.label, data: s.values, backgroundColor: s.color, borderColor: s.color })),
    };
  }
  return {
    datasets: config.series.map((s) => ({
      label: s.label,
      data: s.points.map((p) => ({ x: p.x, y: p.y ?? Number.NaN })),
      borderColor: s.faded ? `${s.color}55` : s.color,
      backgroundColor: s.faded ? `${s.color}55` : s.color,
      borderDash: s.dashed ? [6, 4] : undefined,
      borderWidth: 1.75,
      pointRadius: s.dots ? 3 : 0,
      pointHoverRadius: 4,
      spanGaps: true,
      yAxisID: s.right ? 'y2' : 'y',
      tension: 0,
    })),
  };
}

export function chartConfiguration(config: ChartConfig, theme: ChartTheme): ChartConfiguration {
  const common = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false as const,
    normalized: true,
    plugins: {
      title: { display: true, text: config.title, color: theme.text, font: { size: 13, weight: 600 as const } },
      legend: {
        labels: {
          color: theme.text,
          boxWidth: 10,
          boxHeight: 10,
          font: { size: 11 },
          // The raw line behind a smoothed one shares its label: list it once.
          filter: (item: { datasetIndex?: number }) => !(config.kind === 'line' && config.series[item.datasetIndex ?? -1]?.faded),
        },
      },
      kilnTheme: theme,
      tooltip: {
        mode: 'nearest' as const,
        intersect: false,
        filter: (item: { datasetIndex: number }) => !(config.kind === 'line' && config.series[item.datasetIndex]?.faded),
      },
    },
  };
  if (config.kind === 'bar') {
    const valueAxis = axis(config.y, theme);
    const categoryAxis = { type: 'category' as const, ticks: { color: theme.text, autoSkip: false }, grid: { color: theme.grid } };
    return {
      type: 'bar',
      data: chartData(config),
      options: {
        ...common,
        indexAxis: config.horizontal ? 'y' : 'x',
        scales: config.horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
      },
    } as ChartConfiguration;
  }
  return {
    type: 'line',
    data: chartData(config),
    options: {
      ...common,
      parsing: false,
      interaction: { mode: 'nearest', intersect: false, axis: 'x' },
      plugins: { ...common.plugins, kilnMarkers: config.markers ?? [] },
      scales: {
        x: axis(config.x, theme),
        y: axis(config.y, theme, 'left'),
        ...(config.y2 ? { y2: axis(config.y2, theme, 'right') } : {}),
      },
    },
    plugins: [markerPlugin, crosshairPlugin],
  } as ChartConfiguration;
}
