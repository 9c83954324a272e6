/**
 * Charts that share an x axis (the compare view's overlays): hovering one shows the same x on all
 * (and a read-out of every run there), and zooming or panning one moves them all.
 */
export class ChartLink {
  /** The x value under the pointer in any linked chart; null when the pointer is elsewhere. */
  hoverX = $state<number | null>(null);
  /** The zoomed x range; null shows all the data. */
  xRange = $state<[number, number] | null>(null);

  reset(): void {
    this.xRange = null;
  }
}
