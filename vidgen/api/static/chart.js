// Bar charts drawn as inline SVG, from the page's own data: no charting library and nothing
// from another site (the page's Content-Security-Policy allows neither). Colours come from
// playground.css through class names, so both themes apply.

const SVG = "http://www.w3.org/2000/svg";

function svg(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== null) element.textContent = text;
  return element;
}

/**
 * Two series side by side for each label: credits and jobs, each scaled to its own maximum (one
 * is tens, the other thousands). Every bar has a tooltip; the chart is one image to a screen
 * reader, with its numbers in its label.
 *
 * @param {{label: string, credits: number, jobs: number}[]} rows
 * @param {string} title what the chart shows, for its accessible name
 * @param {{width?: number}} options the drawing's width in its own units (its height is 180)
 */
export function barChart(rows, title, { width = 640 } = {}) {
  const height = 180;
  const bottom = 36;
  const top = 10;
  const side = 24; // room for the first and last labels, which are centred under their bars
  const slot = (width - 2 * side) / Math.max(rows.length, 1);
  const bar = Math.max(2, Math.min(18, slot / 3));
  const maxCredits = Math.max(1, ...rows.map((r) => r.credits));
  const maxJobs = Math.max(1, ...rows.map((r) => r.jobs));
  const plot = height - bottom - top;
  const summary = rows.map((r) => `${r.label}: ${r.credits} credits, ${r.jobs} jobs`).join("; ");
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": `${title}. ${summary || "Nothing yet."}`,
  });
  chart.append(
    svg("line", { x1: side, y1: height - bottom, x2: width - side, y2: height - bottom, class: "chart-axis" }),
  );
  rows.forEach((row, index) => {
    const middle = side + slot * index + slot / 2;
    const credits = (row.credits / maxCredits) * plot;
    const jobs = (row.jobs / maxJobs) * plot;
    const group = svg("g", { class: "chart-slot", "data-label": row.label });
    const creditBar = svg("rect", {
      x: middle - bar - 1,
      y: height - bottom - credits,
      width: bar,
      height: credits,
      class: "chart-bar chart-credits",
    });
    creditBar.append(svg("title", {}, `${row.label}: ${row.credits} credits`));
    const jobBar = svg("rect", {
      x: middle + 1,
      y: height - bottom - jobs,
      width: bar,
      height: jobs,
      class: "chart-bar chart-jobs",
    });
    jobBar.append(svg("title", {}, `${row.label}: ${row.jobs} jobs`));
    group.append(creditBar, jobBar);
    // Every label when they fit, else every few: a month of days stays readable.
    const every = Math.ceil(rows.length / 10);
    if (index % every === 0) {
      group.append(svg("text", { x: middle, y: height - bottom + 16, class: "chart-label" }, row.label));
    }
    chart.append(group);
  });
  return chart;
}

/** The legend shared by every chart: which colour is which series. */
export function legend() {
  const list = document.createElement("ul");
  list.className = "chart-legend";
  for (const [name, text] of [["credits", "credits (net)"], ["jobs", "jobs"]]) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `chart-swatch chart-${name}`;
    item.append(swatch, document.createTextNode(text));
    list.append(item);
  }
  return list;
}
