"use strict";
async function post(path, payload, done) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload ?? {}) });
  const body = await response.json().catch(() => ({}));
  document.getElementById("log").textContent = response.ok ? `已执行：${done}` : `未执行：${body.message ?? response.status}`;
}
document.querySelectorAll("[data-core]").forEach((b) =>
  b.addEventListener("click", () => post("/api/sim/person", { core_c: Number(b.dataset.core) }, `有人上前（体温 ${b.dataset.core} °C）`)));
document.querySelectorAll("[data-fault]").forEach((b) =>
  b.addEventListener("click", () => post("/api/sim/fault", { fault: b.dataset.fault }, `探头故障：${b.dataset.words}`)));
document.getElementById("custom").addEventListener("click", () => {
  const core = document.getElementById("core").value;
  post("/api/sim/person", { core_c: Number(core) }, `有人上前（体温 ${core} °C）`);
});
document.getElementById("leave").addEventListener("click", () => post("/api/sim/leave", {}, "离开"));
document.getElementById("clear").addEventListener("click", () => post("/api/sim/clear", {}, "故障已排除"));
