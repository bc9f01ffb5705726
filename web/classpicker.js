// A searchable case-class picker: 261 classes are too many for a plain select, so the list is
// grouped by major class and filtered as one types (name, code, major class or English name:
// 井盖, C0101, 园林, manhole). Keyboard: ↓/↑ move through the shown classes, Enter chooses.
// Takes the `majors` of /api/classes; needs nothing else from the page, so other pages can
// use it too (the residents' page passes `badge` to mark the classes to phone in first).

import { escapeHtml } from "./api.js";

const norm = (s) => String(s ?? "").toLowerCase();

// Builds the picker inside `root` (an empty element). `onChange(code)` runs on every choice;
// `badge(class)` may return a short text shown after a class's name (and searched with it).
// Returns { value, clear(), focus() }; the chosen code is also `root.dataset.value`.
export function classPicker(root, majors, { placeholder = "搜索类别：名称或代码，如 井盖、C0101", label = "案件类别", onChange = () => {}, badge = () => "" } = {}) {
  const all = majors.flatMap((m) => m.classes.map((c) => ({ ...c, major: m })));
  const byCode = new Map(all.map((c) => [c.code, c]));
  const badgeHtml = (c) => {
    const text = badge(c);
    return text ? ` <span class="cp-badge">${escapeHtml(text)}</span>` : "";
  };
  root.classList.add("class-picker");
  root.innerHTML = `
    <div class="cp-chosen" hidden></div>
    <input type="search" class="cp-search" placeholder="${escapeHtml(placeholder)}" aria-label="${escapeHtml(label)}" autocomplete="off" spellcheck="false">
    <p class="cp-count hint"></p>
    <div class="cp-list" role="listbox" aria-label="${escapeHtml(label)}">${majors.map((m) => `
      <div class="cp-group" data-major="${escapeHtml(m.code)}">
        <div class="cp-major">${escapeHtml(m.name)} <small>${escapeHtml(m.code)}</small></div>
        ${m.classes.map((c) => `<button type="button" class="cp-option" role="option" data-code="${escapeHtml(c.code)}">${escapeHtml(c.name)}${badgeHtml(c)} <small>${escapeHtml(c.code)}</small></button>`).join("")}
      </div>`).join("")}
    </div>`;
  const input = root.querySelector(".cp-search");
  const list = root.querySelector(".cp-list");
  const chosen = root.querySelector(".cp-chosen");
  const count = root.querySelector(".cp-count");
  let value = "";

  const shown = () => [...list.querySelectorAll(".cp-option:not([hidden])")];

  function filter() {
    const words = norm(input.value).split(/\s+/).filter(Boolean);
    let n = 0;
    for (const group of list.querySelectorAll(".cp-group")) {
      let any = false;
      for (const option of group.querySelectorAll(".cp-option")) {
        const c = byCode.get(option.dataset.code);
        const text = norm(`${c.name} ${c.code} ${c.name_en || ""} ${c.major.name} ${c.major.code} ${badge(c) || ""}`);
        const match = words.every((w) => text.includes(w));
        option.hidden = !match;
        option.classList.remove("active");
        if (match) {
          any = true;
          n += 1;
        }
      }
      group.hidden = !any;
    }
    count.textContent = words.length ? (n ? `找到 ${n} 个类别` : "没有匹配的类别") : `共 ${all.length} 个类别，按大类分组`;
    root.dataset.shown = String(n);
  }

  function open(isOpen) {
    root.classList.toggle("open", isOpen);
    list.hidden = !isOpen;
    count.hidden = !isOpen;
    input.hidden = !isOpen;
    chosen.hidden = isOpen || !value;
  }

  function choose(code) {
    const c = byCode.get(code);
    value = c ? c.code : "";
    root.dataset.value = value;
    chosen.innerHTML = c
      ? `<span class="cp-name">${escapeHtml(c.name)}</span>${badgeHtml(c)} <small>${escapeHtml(c.code)} · ${escapeHtml(c.major.name)}</small> <button type="button" class="link cp-change">更改</button>`
      : "";
    for (const option of list.querySelectorAll(".cp-option")) option.setAttribute("aria-selected", String(option.dataset.code === value));
    open(!value);
    onChange(value);
  }

  function move(step) {
    const options = shown();
    if (!options.length) return;
    const at = options.findIndex((o) => o.classList.contains("active"));
    const next = options[(at + step + options.length) % options.length];
    options.forEach((o) => o.classList.toggle("active", o === next));
    next.scrollIntoView({ block: "nearest" });
  }

  input.addEventListener("input", filter);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      move(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter") {
      event.preventDefault();
      const options = shown();
      const pick = options.find((o) => o.classList.contains("active")) || (options.length === 1 ? options[0] : null);
      if (pick) choose(pick.dataset.code);
    }
  });
  list.addEventListener("click", (event) => {
    const option = event.target.closest(".cp-option");
    if (option) choose(option.dataset.code);
  });
  chosen.addEventListener("click", (event) => {
    if (!event.target.closest(".cp-change")) return;
    open(true);
    input.focus();
  });
  filter();
  open(true);
  return {
    get value() {
      return value;
    },
    set value(code) {
      choose(code);
    },
    clear() {
      input.value = "";
      filter();
      choose("");
    },
    focus() {
      input.focus();
    },
  };
}
