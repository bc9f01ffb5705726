// Patrol coverage (巡查覆盖率) in the appraisal tab: for one day, each beat's share of unit grid
// cells its inspectors passed (within the server's radius), and per inspector the share, time
// on beat and distance, from /api/coverage. Clicking a beat draws its cells on the map coloured
// by the hours since the last visit (grey: not passed that day).

import { auth, api, $, $$, escapeHtml } from "./api.js";

const SOURCE = "coverage-cells";
const pad = (n) => String(n).padStart(2, "0");
const today = () => {
  const d = new Date();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
};
const percent = (v) => `${(v * 100).toFixed(1)}%`;

function render(body) {
  const box = $("#coverage-result");
  const beats = body.beats.filter((b) => b.inspectors.some((i) => i.fixes > 0));
  if (!beats.length) {
    box.innerHTML = `<p class="hint" id="coverage-empty">${escapeHtml(body.date)} 没有监督员的巡查轨迹（共 ${body.beats.length} 个责任网格）。</p>`;
    return;
  }
  beats.sort((a, b) => a.share - b.share);
  const rows = beats.map((b) => {
    const people = b.inspectors
      .filter((i) => i.fixes > 0)
      .map((i) => `${escapeHtml(i.worker)}：${percent(i.share)}，${(i.time_on_beat_s / 3600).toFixed(1)} 时，${(i.distance_m / 1000).toFixed(2)} km`)
      .join("<br>");
    return `<tr data-beat="${escapeHtml(b.beat)}" title="在地图上显示各单元网格最后巡查时间">
      <td>${escapeHtml(b.beat)}</td><td class="num${b.share < 0.6 ? " low" : ""}">${percent(b.share)}</td>
      <td class="num">${b.cells_passed}/${b.cells}</td><td><small>${people}</small></td></tr>`;
  });
  box.innerHTML = `<p class="summary">${escapeHtml(body.date)}：${beats.length} 个责任网格有巡查轨迹（半径 ${body.radius_m} m）。</p>
    <div class="table-wrap"><table id="coverage-table">
      <thead><tr><th>责任网格</th><th class="num">覆盖率</th><th class="num">单元网格</th><th>监督员</th></tr></thead>
      <tbody>${rows.join("")}</tbody></table></div>`;
  $$("#coverage-table tr[data-beat]").forEach((tr) => tr.addEventListener("click", () => show(tr.dataset.beat, body.date)));
}

async function load(event) {
  event?.preventDefault();
  const box = $("#coverage-result");
  if (!auth.key) {
    box.innerHTML = `<p class="hint">巡查覆盖率需要工作人员密钥（在“案件”页填写）。</p>`;
    return;
  }
  box.classList.add("loading");
  try {
    const { body } = await api(`/api/coverage?date=${$("#cv-date").value}`);
    render(body);
  } catch (error) {
    box.innerHTML = `<p class="warn">${escapeHtml(error.message)}</p>`;
  } finally {
    box.classList.remove("loading");
  }
}

// The beat's cells, coloured by hours since the last visit: green within 2 h, yellow within
// 6 h, orange later that day, grey when not passed.
async function show(beat, date) {
  const map = window.gridlink.map;
  const { body } = await api(`/api/coverage?date=${date}&beat=${encodeURIComponent(beat)}&format=geojson`);
  if (map.getSource(SOURCE)) map.getSource(SOURCE).setData(body);
  else {
    map.addSource(SOURCE, { type: "geojson", data: body });
    map.addLayer({
      id: `${SOURCE}-fill`,
      type: "fill",
      source: SOURCE,
      paint: {
        "fill-opacity": 0.55,
        "fill-color": ["case", ["==", ["get", "hours_since_visit"], null], "#9e9e9e",
          ["step", ["get", "hours_since_visit"], "#2e7d32", 2, "#f9a825", 6, "#ef6c00"]],
      },
    });
    map.addLayer({ id: `${SOURCE}-line`, type: "line", source: SOURCE, paint: { "line-color": "#37474f", "line-width": 0.6 } });
  }
  const xs = body.features.flatMap((f) => f.geometry.coordinates.flat(2));
  const lons = xs.filter((_, i) => i % 2 === 0);
  const lats = xs.filter((_, i) => i % 2 === 1);
  if (lons.length) map.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]], { padding: 40 });
  window.gridlink.coverageShown = beat;
}

export function initCoverage() {
  $("#cv-date").value = today();
  $("#coverage-form").addEventListener("submit", load);
}
