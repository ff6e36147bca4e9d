// What every chart on the pages shares, the live ones (live.js) and the per-minute history
// (overview.js): a legend naming each line, a value axis as wide as its longest label (a fixed
// width clipped "488.3 KB" and "900.0 KB/s"), and room on the right for the last time label.
(function () {
  "use strict";

  const COLOURS = ["#2b7bb9", "#d9822b", "#6a9f3a"];
  const FONT = '12px system-ui, -apple-system, "Segoe UI", sans-serif';
  const TICK_AND_GAP = 10 + 5;  // uPlot's tick length and gap beside the labels
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = FONT;

  // The plot's box, inside the tile's padding (the tile's own width overflowed it).
  const width = (tile) => tile.querySelector(".plot").clientWidth || 320;

  // spec: { series: [[field, label], ...], axis: value -> label }; tile: the chart's box,
  // where the longest label measured is noted (data-y-label) for a reader or a test.
  function options(tile, spec, scales) {
    const valueAxisSize = (u, values) => {
      const longest = (values || []).reduce((a, v) => (measure.measureText(v).width > measure.measureText(a).width ? v : a), "");
      tile.dataset.yLabel = longest;
      return Math.ceil(measure.measureText(longest).width) + TICK_AND_GAP + 4;
    };
    return {
      width: width(tile), height: 120, cursor: { y: false },
      legend: { live: false },
      padding: [8, 16, 0, 0],
      scales,
      axes: [{ space: 60, font: FONT }, { font: FONT, size: valueAxisSize, values: (u, ticks) => ticks.map(spec.axis) }],
      series: [{}, ...spec.series.map(([, label], i) => ({ label, stroke: COLOURS[i], width: 1.5 }))],
    };
  }

  window.Berth = window.Berth || {};
  window.Berth.chartOptions = options;
  window.Berth.chartWidth = width;
})();
