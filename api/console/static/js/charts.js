// Small time-series charts on uPlot (loaded by the page as vendor/uPlot.iife.min.js, a global `uPlot`).
//   const chart = lineChart(element, [{ label: "p50", stroke: "#2f5bea" }, ...]);
//   chart.update([[t1, t2], [y1, y2], ...]);      // x in unix seconds, one array per series

const COLOURS = ["#2f5bea", "#c01048", "#12805c", "#b54708"];

export function lineChart(element, series, { height = 180, yLabel } = {}) {
  const options = {
    width: Math.max(element.clientWidth, 280),
    height,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max || 0, 1) * 1.1] } },
    axes: [{}, { label: yLabel, size: 50 }],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: s.stroke || COLOURS[i % COLOURS.length],
                                            width: 2, spanGaps: true, points: { size: 4 } }))],
    legend: { live: false },
  };
  const empty = [[], ...series.map(() => [])];
  const plot = new window.uPlot(options, empty, element);
  const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 280), height }));
  observer.observe(element);
  return { update: (data) => plot.setData(data), plot };
}
