// Numbers as people read them, one helper per kind, shared by every part of the page (it needs
// no DOM, so the browser test imports it in Node too).

const trimZero = (text) => text.replace(/\.0$/, "");

// A distance in metres as a person says it: 3.2 米, 45 米, 860 米, 1.5 公里, 12 公里 — never
// "857.3 米" or "1000 米". Under 10 m one decimal (a cell border 3.2 m away matters), under
// 1 km to 10 m, under 10 km to 100 m, beyond that whole kilometres.
export function distanceText(metres) {
  const m = Number(metres);
  if (metres == null || metres === "" || !Number.isFinite(m) || m < 0) return "—";
  if (m < 9.95) return `${trimZero(m.toFixed(1))} 米`;
  if (m < 99.5) return `${Math.round(m)} 米`;
  if (m < 995) return `${Math.round(m / 10) * 10} 米`;
  if (m < 9950) return `${trimZero((m / 1000).toFixed(1))} 公里`;
  return `${Math.round(m / 1000)} 公里`;
}
