"use strict";
async function post(path, payload) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload ?? {}) });
  document.getElementById("log").textContent = path + " → " + (await response.text());
}
document.querySelectorAll("[data-core]").forEach((b) =>
  b.addEventListener("click", () => post("/api/sim/person", { core_c: Number(b.dataset.core) })));
document.querySelectorAll("[data-fault]").forEach((b) =>
  b.addEventListener("click", () => post("/api/sim/fault", { fault: b.dataset.fault })));
document.getElementById("custom").addEventListener("click", () =>
  post("/api/sim/person", { core_c: Number(document.getElementById("core").value) }));
document.getElementById("leave").addEventListener("click", () => post("/api/sim/leave"));
document.getElementById("clear").addEventListener("click", () => post("/api/sim/clear"));
